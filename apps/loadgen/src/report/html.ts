import type { FanoutResult } from '../fanout.js';
import type { PublishResult } from '../publish.js';
import { type AnyResult, markdownSummary } from './markdown.js';
import { escapeXml, lineChart } from './svg.js';

/** Plots of one fan-out result. */
export function fanoutCharts(r: FanoutResult): string[] {
  const charts: string[] = [];
  charts.push(
    lineChart({
      title: `${r.label}: latency distribution per update`,
      xLabel: 'latency from publish start (ms)',
      yLabel: 'fraction of subscribers',
      series: r.updates.map((u) => ({
        name: `update ${u.index + 1}`,
        points: u.cdf.map((x, i) => [x, i / (u.cdf.length - 1)] as [number, number]),
      })),
    }),
  );
  charts.push(
    lineChart({
      title: `${r.label}: fan-out completion and p99 per update`,
      xLabel: 'update',
      yLabel: 'ms',
      series: [
        {
          name: 'completion (last receipt)',
          points: r.updates.map((u) => [u.index + 1, u.completionMs]),
        },
        { name: 'p99', points: r.updates.map((u) => [u.index + 1, u.latency.p99]) },
        { name: 'p50', points: r.updates.map((u) => [u.index + 1, u.latency.p50]) },
      ],
    }),
  );
  if (r.cost && r.cost.samples.length > 1) {
    const t0 = r.cost.samples[0]!.at;
    charts.push(
      lineChart({
        title: `${r.label}: server RSS vs connected subscribers`,
        xLabel: 'connected subscribers',
        yLabel: 'RSS (MB)',
        series: [
          {
            name: 'RSS',
            markers: true,
            points: r.cost.samples.map((s) => [s.subscribers, s.rssKb / 1024]),
          },
        ],
      }),
      lineChart({
        title: `${r.label}: server over time`,
        xLabel: 'seconds',
        yLabel: 'RSS (MB) / CPU (s) / subscribers (k)',
        series: [
          {
            name: 'RSS MB',
            points: r.cost.samples.map((s) => [(s.at - t0) / 1000, s.rssKb / 1024]),
          },
          {
            name: 'CPU s',
            points: r.cost.samples.map((s) => [(s.at - t0) / 1000, s.cpuMs / 1000]),
          },
          {
            name: 'subscribers k',
            points: r.cost.samples.map((s) => [(s.at - t0) / 1000, s.subscribers / 1000]),
          },
        ],
      }),
    );
  }
  return charts;
}

/** Minimal Markdown → HTML for the summaries (paragraphs, bold, tables, headings). */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const blocks = md.split(/\n\n+/);
  for (const block of blocks) {
    const lines = block.split('\n');
    if (lines[0]?.startsWith('|')) {
      const rows = lines
        .filter((_l, i) => i !== 1)
        .map((l) =>
          l
            .slice(1, -1)
            .split('|')
            .map((c) => c.trim()),
        );
      out.push(
        '<table>',
        ...rows.map(
          (cells, i) =>
            `<tr>${cells.map((c) => (i === 0 ? `<th>${inline(c)}</th>` : `<td>${inline(c)}</td>`)).join('')}</tr>`,
        ),
        '</table>',
      );
    } else if (/^#{1,4} /.test(lines[0] ?? '')) {
      const level = lines[0]!.indexOf(' ');
      out.push(`<h${level}>${inline(lines[0]!.slice(level + 1))}</h${level}>`);
      if (lines.length > 1) out.push(`<p>${inline(lines.slice(1).join(' '))}</p>`);
    } else if (lines[0]?.startsWith('```')) {
      out.push(`<pre>${escapeXml(lines.slice(1, -1).join('\n'))}</pre>`);
    } else {
      out.push(`<p>${inline(block)}</p>`);
    }
  }
  return out.join('\n');
}

function inline(text: string): string {
  return escapeXml(text)
    .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')
    .replace(/`(.+?)`/g, '<code>$1</code>')
    .replace(/\[(.+?)\]\((.+?)\)/g, '<a href="$2">$1</a>');
}

/** A self-contained HTML page: summaries, inline SVG plots, and the raw JSON. */
export function htmlPage(
  title: string,
  sections: Array<{ markdown: string; charts: string[] }>,
  raw?: unknown,
): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1320px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:12px}svg{border:1px solid #ddd}
code,pre{background:#f6f6f6;padding:1px 4px}pre{padding:8px;overflow:auto}details{margin:2em 0}
</style></head><body>
<h1>${escapeXml(title)}</h1>
${sections.map((s) => `<section>${markdownToHtml(s.markdown)}<div class="charts">${s.charts.join('\n')}</div></section>`).join('\n<hr>\n')}
${raw === undefined ? '' : `<details><summary>raw JSON</summary><pre>${escapeXml(JSON.stringify(raw, null, 2).slice(0, 2_000_000))}</pre></details>`}
</body></html>
`;
}

/** The latency distribution of a publish run. */
export function publishCharts(r: PublishResult): string[] {
  return [
    lineChart({
      title: `${r.label}: request latency distribution`,
      xLabel: 'latency (ms)',
      yLabel: 'fraction of requests',
      series: [
        {
          name: 'requests',
          points: r.latencyCdf.map((x, i) => [x, i / (r.latencyCdf.length - 1)]),
        },
      ],
    }),
  ];
}

/** The HTML report of one CLI result. */
export function resultHtml(result: AnyResult): string {
  const charts =
    result.kind === 'fanout'
      ? fanoutCharts(result)
      : result.kind === 'publish'
        ? publishCharts(result)
        : [];
  return htmlPage(
    `loadgen ${result.kind}: ${result.label}`,
    [{ markdown: markdownSummary(result), charts }],
    result,
  );
}
