#!/usr/bin/env python3
"""A TCP relay between two nodes that a test can cut and heal: a network partition on loopback.

Usage: partition_proxy.py TARGET_PORT [RECORD_FILE]
Prints "proxy on 127.0.0.1:PORT" once listening. With RECORD_FILE, every byte relayed (both ways)
is appended to it: what an observer on the path sees. SIGUSR1 cuts the link (every relayed connection
is closed and new ones are closed at once); SIGUSR2 heals it. Exits by itself after an hour, so a
test that dies cannot leave it behind.
"""
import asyncio
import signal
import sys

LIFETIME_SECONDS = 3600


async def main(target_port: int, record_path) -> None:
    state = {"cut": False}
    record = open(record_path, "ab") if record_path else None
    open_writers: set = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not state["cut"]:
                data = await reader.read(65536)
                if not data:
                    break
                if record:
                    record.write(data)
                    record.flush()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def relay(client_reader, client_writer) -> None:
        if state["cut"]:
            client_writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        open_writers.update((client_writer, upstream_writer))
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
        open_writers.difference_update((client_writer, upstream_writer))

    def cut() -> None:
        state["cut"] = True
        for writer in list(open_writers):
            writer.close()
        open_writers.clear()
        print("cut", flush=True)

    def heal() -> None:
        state["cut"] = False
        print("healed", flush=True)

    # The test runner's children inherit a signal mask that blocks some signals; unblock ours.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGUSR2})
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, heal)
    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"proxy on 127.0.0.1:{port}", flush=True)
    async with server:
        await asyncio.sleep(LIFETIME_SECONDS)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
