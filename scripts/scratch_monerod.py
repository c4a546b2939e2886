#!/usr/bin/env python3
"""scratch_monerod.py - a scratch monerod for dualrun's ``monerod:URL`` legacy adapter.

Starts Debian's monerod in regtest (``--regtest --offline --fixed-difficulty 1``), on loopback ports of
its own, in a fresh data directory, waits until its RPC answers, prints one line ``monerod:URL`` (the
adapter spec to pass as ``--legacy``) and keeps it running until this script gets SIGINT/SIGTERM or
stdin closes (``--until-stdin-closes``); then it stops the daemon cleanly (``/stop_daemon``).

A regtest daemon starts at the regtest (= Monero mainnet) genesis and follows a replay of any chain made
under regtest rules, such as dualrun's fixture and sample chains.

Usage: scratch_monerod.py [--data-dir DIR] [--rpc-port P] [--monerod PATH] [--until-stdin-closes]
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixture_chain as fx  # noqa: E402  (same directory)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="data directory (default: a temporary one, removed at exit)")
    p.add_argument("--rpc-port", type=int, help="RPC port on 127.0.0.1 (default: a free one)")
    p.add_argument("--monerod", default="/usr/bin/monerod")
    p.add_argument("--until-stdin-closes", action="store_true", help="stop when stdin reaches EOF")
    args = p.parse_args(argv)

    workdir = args.data_dir or tempfile.mkdtemp(prefix="dualrun-scratch-monerod-")
    os.makedirs(workdir, exist_ok=True)
    p2p, rpc_port, zmq = fx.free_loopback_ports(3)
    if args.rpc_port:
        rpc_port = args.rpc_port
    daemon = fx.Daemon(fx.build_command(args.monerod, workdir, p2p, rpc_port, zmq), os.path.join(workdir, "monerod.stdout.log"))
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.start()
        rpc = fx.Rpc(rpc_port)
        daemon.wait_ready(rpc, fx.STARTUP_TIMEOUT)
        print(f"monerod:http://127.0.0.1:{rpc_port}", flush=True)
        fx.log(f"scratch monerod ready (data dir {workdir}); stop with Ctrl-C")
        try:
            if args.until_stdin_closes:
                sys.stdin.read()
            else:
                signal.pause()
        except KeyboardInterrupt:
            pass
        if not daemon.stop_clean(rpc, fx.STOP_TIMEOUT):
            fx.log("monerod did not stop cleanly; killed")
        return 0
    except fx.FixtureError as e:
        print(f"scratch_monerod: error: {e}", file=sys.stderr)
        return 2
    finally:
        daemon.kill()
        daemon.close_log()
        if not args.data_dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
