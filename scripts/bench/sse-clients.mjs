// A child process holding N dashboard streams open on GET /api/v1/events (apart from the server, so its CPU is not
// counted as the server's). Prints "ready" once all are subscribed, then on "report\n" from stdin the events each got.
const [url, n] = [process.argv[2], Number(process.argv[3])];
const counts = new Array(n).fill(0);
let ready = 0;
await Promise.all(counts.map(async (_, i) => {
  const res = await fetch(url);
  const dec = new TextDecoder();
  let sawHello = false;
  (async () => {
    for await (const chunk of res.body) {
      const text = dec.decode(chunk, { stream: true });
      counts[i] += (text.match(/^id: /gm) ?? []).length;
      if (!sawHello && text.includes('"type":"hello"')) { sawHello = true; if (++ready === n) process.stdout.write('ready\n'); }
    }
  })().catch(() => undefined);
}));
process.stdin.on('data', (d) => {
  if (String(d).includes('report')) process.stdout.write(`${JSON.stringify(counts)}\n`);
  if (String(d).includes('exit')) process.exit(0);
});
