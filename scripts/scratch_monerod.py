#!/usr/bin/env python3
"""scratch_monerod.py - a scratch monerod for dualrun's ``monerod:URL`` legacy adapter.

Starts Debian's monerod in regtest (``--regtest --offline --fixed-difficulty 1``), on loopback ports of
its own, in a fresh data directory, waits until its RPC answers, prints one line ``monerod:URL`` (the
adapter spec to pass as ``--legacy``) and keeps it running until this script gets SIGINT/SIGTERM or
stdin closes (``--until-stdin-closes``); then it stops the daemon cleanly (``/stop_daemon``).

A regtest daemon starts at the regtest (= Monero mainnet) genesis and follows a replay of any chain made
under regtest rules, such as dualrun's fixture and sample chains.

With ``--from-chain DIR --height H`` the daemon starts on a copy of that chain database (a node's LMDB
directory, not in use: ``mdb_copy`` is used) popped back to height H (``/pop_blocks``): its tip is then block
H - 1, the parent of a shard's first block, so a ``monerod:`` legacy can judge the shard ``H..`` of a sharded
replay without re-submitting the blocks before it.

Usage: scratch_monerod.py [--data-dir DIR] [--rpc-port P] [--monerod PATH] [--until-stdin-closes]
                          [--from-chain DIR --height H]
"""

import argparse
import os
import shutil
import signal
import subprocess
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
    p.add_argument("--from-chain", help="start on a copy of this chain database (an LMDB directory)")
    p.add_argument("--height", type=int, help="with --from-chain: pop the copy back so that its height is H")
    args = p.parse_args(argv)
    if (args.from_chain is None) != (args.height is None):
        p.error("--from-chain and --height go together")

    workdir = args.data_dir or tempfile.mkdtemp(prefix="dualrun-scratch-monerod-")
    os.makedirs(workdir, exist_ok=True)
    p2p, rpc_port, zmq = fx.free_loopback_ports(3)
    if args.rpc_port:
        rpc_port = args.rpc_port
    command = fx.build_command(args.monerod, workdir, p2p, rpc_port, zmq)
    if args.from_chain:
        lmdb = os.path.join(workdir, "fake", "lmdb")
        if os.path.exists(os.path.join(lmdb, "data.mdb")):
            print(f"scratch_monerod: error: {lmdb} already holds a chain", file=sys.stderr)
            return 2
        os.makedirs(lmdb, exist_ok=True)
        src = args.from_chain
        if os.path.isdir(os.path.join(src, "lmdb")):
            src = os.path.join(src, "lmdb")
        copied = subprocess.run(["mdb_copy", src, lmdb], capture_output=True, text=True)
        if copied.returncode != 0:
            print(f"scratch_monerod: error: mdb_copy {src}: {copied.stderr.strip()}", file=sys.stderr)
            return 2
        command.append("--keep-fakechain")
    daemon = fx.Daemon(command, os.path.join(workdir, "monerod.stdout.log"))
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.start()
        rpc = fx.Rpc(rpc_port)
        info = daemon.wait_ready(rpc, fx.STARTUP_TIMEOUT)
        if args.from_chain:
            height = int(info["height"])
            if args.height < 1 or args.height > height:
                raise fx.FixtureError(f"--height {args.height}: the chain copy has heights 0..{height - 1}")
            if height > args.height:
                popped = rpc.other("/pop_blocks", {"nblocks": height - args.height})
                now = int(rpc.call("get_info")["height"])
                if now != args.height:
                    raise fx.FixtureError(f"pop_blocks left height {now}, not {args.height}: {popped}")
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
