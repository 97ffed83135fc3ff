import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { nkeys } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { deliveryReport, waitConverged } from '../delivery.js';
import { MemoryWatch } from '../memory.js';
import { permissionsConfig } from '../nats-permissions.js';
import { readStreamState } from '../nats-stream.js';
import { Publisher, SteadyPublishing } from '../publisher.js';
import { ResultBuilder } from '../result.js';
import { environments, type Scenario, sized } from '../scenario.js';
import { SseInstance } from '../sse-instance.js';
import { Stack } from '../stack.js';
import { SubscriberPool } from '../subscribers.js';
import { makeCertificates } from '../tls.js';
import { delay, waitFor } from '../wait.js';
import { finishPublishing, statusesOk } from './common.js';

const SERVICE_USER = 'flagsmith-rt';
const ADMIN_USER = 'chaos-admin';

/**
 * 8. NATS that requires TLS and a user/password, the service user holding only the documented
 * least permissions: the service works (publish, deliver), no permission violation is logged,
 * the service user cannot touch what it does not need, a wrong password is refused cleanly,
 * and no secret appears in the service's logs.
 */
export const natsSecurity: Scenario = {
  id: 'nats-security',
  title: 'NATS security (TLS + user/password, least privileges)',
  async run(context) {
    const b = new ResultBuilder(this.id, this.title, context.mode);
    const subscriberCount = sized(context, 200, 1000);
    const envs = environments('secure', 10);
    const rate = 20;
    const r = b.result;
    r.load = `1 NATS node requiring TLS + user/password, 2 instances (1 worker each) as a least-privilege user, ${subscriberCount} subscribers, ${rate} publishes/s`;
    r.faults =
      'restricted permissions (user/password and NKey users); a wrong password; attempts outside the permissions';
    r.rssBoundMb = 500;

    const certs = makeCertificates();
    const servicePassword = randomBytes(18).toString('base64url');
    const adminPassword = randomBytes(18).toString('base64url');
    // A second way in for the same role: an NKey user (seed in a file, as NATS_NKEY_SEED_FILE).
    const nkeyUser = nkeys.createUser();
    const seedFile = join(certs.dir, 'service.nk');
    writeFileSync(seedFile, `${new TextDecoder().decode(nkeyUser.getSeed())}\n`, { mode: 0o600 });
    const natsConfig = [
      `tls {\n  cert_file: ${JSON.stringify(certs.certFile)}\n  key_file: ${JSON.stringify(certs.keyFile)}\n  timeout: 2\n}`,
      'authorization {\n  users: [',
      `    { user: ${JSON.stringify(SERVICE_USER)}, password: ${JSON.stringify(servicePassword)}, ${permissionsConfig()} }`,
      `    { nkey: ${JSON.stringify(nkeyUser.getPublicKey())}, ${permissionsConfig()} }`,
      `    { user: ${JSON.stringify(ADMIN_USER)}, password: ${JSON.stringify(adminPassword)} }`,
      '  ]\n}',
    ].join('\n');
    const adminOptions = { user: ADMIN_USER, pass: adminPassword, tls: { caFile: certs.caFile } };
    const serviceEnv = {
      NATS_USER: SERVICE_USER,
      NATS_PASSWORD: servicePassword,
      NATS_TLS_CA: certs.caFile,
    };
    let stack: Stack | undefined;
    const publisher = new Publisher({ token: '' });
    let pool: SubscriberPool | undefined;
    let memory: MemoryWatch | undefined;
    const extra: SseInstance[] = [];
    try {
      stack = await Stack.start({
        nats: 'single',
        instances: 2,
        natsConfig,
        connectOptions: adminOptions,
        serviceEnv,
        serviceUrls: (urls) => urls.map((u) => u.replace('nats://', 'tls://')),
      });
      const live = stack;
      (publisher as unknown as { token: string }).token = live.token;
      memory = new MemoryWatch(() => live.instances).start();
      pool = new SubscriberPool({
        targets: live.instances.map((i) => ({ host: '127.0.0.1', port: i.port })),
      });
      const subscribers = pool;
      subscribers.add(envs, Math.ceil(subscriberCount / envs.length));
      await subscribers.waitAllConnected(30_000);
      const steady = new SteadyPublishing(publisher, () => live.liveUrls, envs, rate);
      steady.start();
      await delay(sized(context, 3_000, 10_000));
      await steady.stop();
      statusesOk(b, publisher.records);
      r.convergenceMs = await finishPublishing(
        live,
        publisher,
        subscribers.subscribers,
        envs,
        b,
        20_000,
        context.log,
      );
      const report = deliveryReport(publisher.records, subscribers.subscribers);
      r.acknowledged = report.acknowledged;
      r.lost = report.lost;
      const state = await readStreamState(
        live.nodes.map((n) => n.url),
        adminOptions,
      );
      b.figure('streamMessages', state.messages);

      // Nothing the service did was refused by the server.
      const natsLog = live.nodes[0]!.logs(100_000);
      const violationsIn = (log: string) => log.split('\n').filter((l) => /violation/i.test(l));
      const violations = violationsIn(natsLog);
      b.figure('permissionViolations', violations.length);
      b.check(
        violations.length === 0,
        `permission violations: ${violations.slice(0, 3).join(' | ')}`,
      );

      // The service user cannot do what it does not need.
      const nc = await connect({
        servers: live.nodes[0]!.url,
        user: SERVICE_USER,
        pass: servicePassword,
        tls: { caFile: certs.caFile },
      });
      const denied: string[] = [];
      for (const subject of [
        `$JS.API.STREAM.DELETE.${STREAM_SETTINGS.name}`,
        `$JS.API.STREAM.PURGE.${STREAM_SETTINGS.name}`,
        '$JS.API.STREAM.CREATE.other-stream',
        'other.subject',
      ]) {
        try {
          await nc.request(subject, new Uint8Array(), { timeout: 1_000 });
        } catch (error) {
          denied.push(`${subject}: ${(error as Error).message.slice(0, 60)}`);
        }
      }
      await nc.close();
      // The server logged those refusals: the violation scan above can see one.
      const loggedViolations = () => violationsIn(live.nodes[0]!.logs(100_000)).length;
      await waitFor('the refusals to be logged', () => loggedViolations() >= 4, {
        timeoutMs: 3_000,
      }).catch(() => undefined);
      const logged = loggedViolations();
      b.check(logged >= 4, `the server logged ${logged} of the 4 refused requests as violations`);
      b.figure('deniedToServiceUser', denied.length);
      b.check(
        denied.length === 4,
        `the service user could use subjects beyond its needs (${denied.length}/4 denied)`,
      );
      const after = await readStreamState(
        live.nodes.map((n) => n.url),
        adminOptions,
      );
      b.check(
        after.lastSeq === state.lastSeq,
        'the service user changed the stream outside its permissions',
      );

      // A wrong password is refused: the instance does not become ready, and says why.
      const wrong = new SseInstance({
        name: 'sse-wrong-password',
        token: live.token,
        natsUrls: live.nodes.map((n) => n.url.replace('nats://', 'tls://')),
        env: { ...serviceEnv, NATS_PASSWORD: `${servicePassword}x` },
      });
      extra.push(wrong);
      await wrong.spawnOnly();
      const code = await wrong.expectExit(25_000);
      const ready = wrong.running ? await wrong.probe('/readyz') : 0;
      b.figure(
        'wrongPasswordOutcome',
        code === undefined ? `still running, /readyz ${ready}` : `exited with ${code}`,
      );
      b.check(
        (code !== undefined && code !== 0) || (code === undefined && ready !== 200),
        `with a wrong NATS password the instance ${code === 0 ? 'exited with 0' : 'became ready'}`,
      );
      b.check(
        /authori[sz]ation/i.test(wrong.allLogs()),
        'the wrong-password failure does not say it is an authorization problem',
      );

      // The NKey user works as well: an instance with NATS_NKEY_SEED_FILE serves and publishes.
      const viaNkey = new SseInstance({
        name: 'sse-nkey',
        token: live.token,
        natsUrls: live.nodes.map((n) => n.url.replace('nats://', 'tls://')),
        env: { NATS_NKEY_SEED_FILE: seedFile, NATS_TLS_CA: certs.caFile, SSE_WORKERS: '1' },
      });
      extra.push(viaNkey);
      await viaNkey.start();
      await viaNkey.waitReady();
      const nkeyAck = await publisher.publishUntilAcked([viaNkey.url], envs[0]!, 10_000);
      b.check(
        nkeyAck !== undefined,
        'a publish through the NKey-authenticated instance was not acknowledged',
      );
      const nkeyConverged = await waitConverged(publisher.records, subscribers.subscribers, 10_000);
      b.check(
        nkeyConverged !== undefined,
        'an update published with the NKey user did not reach every subscriber',
      );
      b.figure('nkeyInstance', nkeyConverged === undefined ? 'failed' : 'ready, publish delivered');
      const report2 = deliveryReport(publisher.records, subscribers.subscribers);
      r.acknowledged = report2.acknowledged;
      r.lost = report2.lost;

      // No secret in any service log.
      const logs = [...live.instances, wrong, viaNkey].map((i) => i.allLogs()).join('\n');
      const seed = new TextDecoder().decode(nkeyUser.getSeed());
      const leaked = [servicePassword, `${servicePassword}x`, live.token, seed].filter((secret) =>
        logs.includes(secret),
      );
      b.check(leaked.length === 0, `${leaked.length} secrets appear in the service logs`);
    } finally {
      if (memory) r.peakRssMb = memory.stop();
      const crashes = [...(stack?.crashes() ?? []), ...extra.flatMap((i) => i.crashes)];
      r.crashes = crashes.length;
      for (const crash of crashes) context.log(`CRASH ${crash.name}: ${crash.tail}`);
      pool?.close();
      publisher.close();
      for (const i of extra) await i.dispose();
      await stack?.stop();
      certs.remove();
    }
    return b.finish();
  },
};
