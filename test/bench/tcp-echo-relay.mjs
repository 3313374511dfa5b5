// The process-hop floor's two processes (see hop-floor.ts), plain JavaScript like bare-proxy.mjs.
//   node tcp-echo-relay.mjs echo           answers every byte with itself
//   node tcp-echo-relay.mjs relay <port>   copies bytes both ways between each client and 127.0.0.1:<port>
// Nothing else: no HTTP, no parsing, Nagle off. Prints "<mode> listening on <port>".
import { connect, createServer } from "node:net";

const [mode, upstreamPort] = process.argv.slice(2);
if ((mode !== "echo" && mode !== "relay") || (mode === "relay" && !/^\d+$/.test(upstreamPort ?? ""))) {
  process.stderr.write("usage: node tcp-echo-relay.mjs echo | relay <port>\n");
  process.exit(2);
}

const server = createServer((client) => {
  client.setNoDelay(true);
  client.on("error", () => client.destroy());
  if (mode === "echo") {
    client.on("data", (chunk) => client.write(chunk));
    return;
  }
  const upstream = connect(Number(upstreamPort), "127.0.0.1");
  upstream.setNoDelay(true);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on("error", close);
  client.on("close", close);
  upstream.on("close", close);
  client.pipe(upstream);
  upstream.pipe(client);
});

server.listen(0, "127.0.0.1", () => process.stdout.write(`${mode} listening on ${server.address().port}\n`));
