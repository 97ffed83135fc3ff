import type { BrokerLogger } from '../logger.js';
import type {
  BrokerErrorListener,
  BrokerState,
  BrokerUpdate,
  StoredListener,
  UpdateListener,
} from './broker.js';

/**
 * Listener bookkeeping shared by the broker adapters: update and state
 * listeners, called synchronously in registration order. A listener that
 * throws is logged and does not stop the others.
 */
export class BrokerEvents {
  readonly #updateListeners = new Set<UpdateListener>();
  readonly #stateListeners = new Set<(state: BrokerState) => void>();
  readonly #storedListeners = new Set<StoredListener>();
  readonly #errorListeners = new Set<BrokerErrorListener>();
  readonly #logger: BrokerLogger;
  #state: BrokerState = 'starting';

  constructor(logger: BrokerLogger) {
    this.#logger = logger;
  }

  /** Current state. */
  get state(): BrokerState {
    return this.#state;
  }

  /** Moves to a state and tells the listeners, if it changed. `closed` is final. */
  setState(state: BrokerState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    for (const listener of this.#stateListeners) {
      try {
        listener(state);
      } catch (error) {
        this.#logger.error({ err: error }, 'broker state listener threw');
      }
    }
  }

  /** Registers a state listener; returns its unsubscribe function. */
  onStateChange(listener: (state: BrokerState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Registers an update listener; returns its unsubscribe function. */
  onUpdate(listener: UpdateListener): () => void {
    this.#updateListeners.add(listener);
    return () => this.#updateListeners.delete(listener);
  }

  /** Delivers an update to every listener, synchronously. */
  emitUpdate(update: BrokerUpdate): void {
    for (const listener of this.#updateListeners) {
      try {
        listener(update);
      } catch (error) {
        this.#logger.error(
          { err: error, environment: update.environment },
          'broker update listener threw',
        );
      }
    }
  }

  /** Registers a stored-time listener; returns its unsubscribe function. */
  onStored(listener: StoredListener): () => void {
    this.#storedListeners.add(listener);
    return () => this.#storedListeners.delete(listener);
  }

  /** Tells the listeners the stored time of an update delivered without one. */
  emitStored(environment: string, updatedAt: number, storedAt: number): void {
    for (const listener of this.#storedListeners) {
      try {
        listener(environment, updatedAt, storedAt);
      } catch (error) {
        this.#logger.error({ err: error, environment }, 'broker stored-time listener threw');
      }
    }
  }

  /** Registers a listener of failed operations; returns its unsubscribe function. */
  onError(listener: BrokerErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Tells the listeners that `operation` failed. */
  emitError(operation: string, error: unknown): void {
    for (const listener of this.#errorListeners) {
      try {
        listener(operation, error);
      } catch (hookError) {
        this.#logger.error({ err: hookError, operation }, 'broker error listener threw');
      }
    }
  }

  /** Drops every listener. */
  clear(): void {
    this.#errorListeners.clear();
    this.#storedListeners.clear();
    this.#updateListeners.clear();
    this.#stateListeners.clear();
  }
}
