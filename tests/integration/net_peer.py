#!/usr/bin/python3
"""The host's end of the network tests: small TCP peers that report what they saw.

  net_peer.py fetch HOST PORT [SECONDS]     connect, read to EOF, print "BYTES SHA256"
  net_peer.py receive HOST PORT READY       accept one connection, read to EOF, print
                                            "BYTES SHA256"; READY is created once listening
  net_peer.py watch HOST PORT READY LOG     accept connections until killed; each one
                                            appends a line to LOG (nothing may arrive)

Every address a test gives is loopback or a link-local address inside the test host."""
import hashlib
import socket
import sys
import time


def drain(connection):
    digest, total = hashlib.sha256(), 0
    while True:
        data = connection.recv(1 << 20)
        if not data:
            return total, digest.hexdigest()
        digest.update(data)
        total += len(data)


def listener(host, port, ready):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(4)
    open(ready, "w").close()
    return server


def fetch(host, port, seconds=60):
    # The guest's server may not be listening yet: retry refused connections.
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = socket.create_connection((host, port), timeout=seconds)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    connection.settimeout(seconds)
    total, digest = drain(connection)
    if total == 0 and time.monotonic() < deadline:
        # A forward that accepted before the guest listened gives an empty stream.
        connection.close()
        time.sleep(0.5)
        return fetch(host, port, max(1, int(deadline - time.monotonic())))
    print(total, digest)


def receive(host, port, ready):
    server = listener(host, port, ready)
    connection, _ = server.accept()
    print(*drain(connection))


def watch(host, port, ready, log):
    server = listener(host, port, ready)
    while True:
        connection, peer = server.accept()
        with open(log, "a") as out:
            out.write("connection from %s:%d\n" % peer)
        connection.close()


def main():
    command, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if command == "fetch":
        fetch(host, port, int(sys.argv[4]) if len(sys.argv) > 4 else 60)
    elif command == "receive":
        receive(host, port, sys.argv[4])
    elif command == "watch":
        watch(host, port, sys.argv[4], sys.argv[5])
    else:
        sys.exit("net_peer.py: unknown command " + command)


if __name__ == "__main__":
    main()
