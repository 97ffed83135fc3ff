// Serves the browser example: node examples/browser/serve.mjs, then open http://127.0.0.1:8080/?key=<key>
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url);
const bundle = await build({
  entryPoints: [new URL('app.js', here).pathname],
  bundle: true,
  format: 'esm',
  minify: true,
  write: false,
});
const app = bundle.outputFiles[0].text;
const html = await readFile(new URL('index.html', here), 'utf8');
const port = Number(process.env.PORT ?? 8080);

const server = createServer((req, res) => {
  if (req.url?.startsWith('/app.js')) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(app);
  } else {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`open http://127.0.0.1:${server.address().port}/?key=<environment key>`);
});
process.once('SIGTERM', () => server.close());
