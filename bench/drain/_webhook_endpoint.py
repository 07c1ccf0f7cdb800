#!/usr/bin/env python3
"""_webhook_endpoint.py CERT KEY PORT - the HTTPS endpoint of the Webhook
drain benchmark (a separate process, so that its GIL is not the
benchmark's): POST stores the body under its Idempotency-Key (a key seen
again replaces its body) and answers 200; GET /count answers the number
of keys. Keep-alive, one thread per connection, 127.0.0.1 only."""
import http.server
import ssl
import sys
import threading

store = {}
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # the status line and headers, then the body, are two writes: with
    # Nagle the second waits for the client's delayed ACK (40 ms)
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def reply(self, code, text):
        self.send_response(code)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key")
        if not key or not body:
            self.reply(400, b"no Idempotency-Key or empty body")
            return
        with lock:
            store[key] = body
        self.reply(200, b"ok")

    def do_GET(self):
        with lock:
            n = len(store)
        self.reply(200, b"%d" % n)


def main():
    crt, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    srv.handle_error = lambda req, addr: None
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
