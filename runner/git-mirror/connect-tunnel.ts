#!/usr/bin/env node
// An ssh ProxyCommand that reaches the upstream through an HTTP proxy used only as a CONNECT tunnel:
//   node connect-tunnel.ts <proxyHost> <proxyPort> <targetHost> <targetPort>
// It sends one CONNECT, waits for a 2xx status and the end of the headers, then copies stdin to the
// proxy and the proxy to stdout until either side closes. A refusal is one stderr line and exit 1.
// It reads no environment variables: the proxy is exactly what the GIT_SSH wrapper declares.
import { connect } from 'node:net';

const HEADERS_END = '\r\n\r\n';
/** A proxy answer longer than this without a blank line is not an HTTP answer. */
const MAX_HEADER_BYTES = 16 * 1024;

function fail(message: string): never {
  process.stderr.write(`connect-tunnel: ${message}\n`);
  process.exit(1);
}

const [proxyHost, proxyPortText, targetHost, targetPortText] = process.argv.slice(2);
const proxyPort = Number(proxyPortText);
const targetPort = Number(targetPortText);
if (
  !proxyHost ||
  !targetHost ||
  !Number.isInteger(proxyPort) ||
  !Number.isInteger(targetPort) ||
  process.argv.length !== 6
) {
  fail('usage: connect-tunnel <proxyHost> <proxyPort> <targetHost> <targetPort>');
}
const proxy = `${proxyHost}:${proxyPort}`;
const target = targetHost.includes(':') ? `[${targetHost}]:${targetPort}` : `${targetHost}:${targetPort}`;

const socket = connect({ host: proxyHost, port: proxyPort });
let tunnelOpen = false;
let head = Buffer.alloc(0);

socket.once('connect', () => {
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
});

socket.on('error', (err) => fail(`proxy ${proxy}: ${err.message}`));

socket.on('data', function onHead(chunk: Buffer) {
  head = Buffer.concat([head, chunk]);
  const end = head.indexOf(HEADERS_END);
  if (end < 0) {
    if (head.length > MAX_HEADER_BYTES) fail(`proxy ${proxy} sent no end of headers for CONNECT ${target}`);
    return;
  }
  const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1];
  if (!status?.startsWith('2')) {
    fail(`proxy ${proxy} refused CONNECT ${target}: ${statusLine || 'no status line'}`);
  }
  socket.off('data', onHead);
  tunnelOpen = true;
  const rest = head.subarray(end + HEADERS_END.length);
  if (rest.length > 0) process.stdout.write(rest);
  socket.pipe(process.stdout);
  process.stdin.pipe(socket);
});

socket.on('end', () => {
  if (!tunnelOpen) fail(`proxy ${proxy} closed the connection before answering CONNECT ${target}`);
});

socket.on('close', () => {
  // The far side is gone; nothing more can flow either way. Exit once stdout has flushed.
  process.stdout.write('', () => process.exit(0));
});
