"""`python -m app [--data PATH] [--host 127.0.0.1] [--port 5006] [--snapshot FILE] [--show] [--lecture]`:
the live training dashboard. Checks that `engine` and `datasets` are this repository's packages, builds the
Runner (the default net, or --snapshot), loads the data in the runner's thread while the page is
already served, and starts training. Binds to 127.0.0.1 unless --host says otherwise.
On an address other machines reach (--host 0.0.0.0), only pages of this machine's own names
accept a session (app/origins.py), and, without --lecture, only the page holding the printed
token changes the run; the others watch read-only. The run is autosaved to
the cache directory every few minutes (app/core/autosave.py) unless --no-autosave. With
--lecture, prints the presenter's URL (with its secret token) and the viewers' URL: viewers
watch the same run, read-only (app/lecture.py), served by a second process on --viewer-port
(default: --port + 1; app/relay.py) so that a room of them does not slow the training.
"""

from __future__ import annotations

import argparse
import gc
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SWITCH_INTERVAL_S = 0.0005


def image_size(text):
    """--image-size: a whole number from 16 to 128 (argparse turns the error into one line, exit 2)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
    if not 16 <= v <= 128:
        raise argparse.ArgumentTypeError("must be from 16 to 128, got %r" % text)
    return v


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m app", description="ConvNet Playground: watch a ConvNet learn CIFAR-10, live."
    )
    p.add_argument(
        "--data",
        help="CIFAR-10 archive, its extracted folder, or an image folder "
        "(default: $CONVNET_DATA, else the cache directory, else download)",
    )
    p.add_argument(
        "--image-size",
        type=image_size,
        default=32,
        help="train on SxS images, 16..128 (an image folder only; default 32)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--snapshot", help="start from this snapshot (.npz, or a ConvNetJS toJSON() .json)")
    p.add_argument("--show", action="store_true", help="open the page in a browser")
    p.add_argument("--backend", choices=["numba", "numpy"], help="kernel backend (default: numba when available)")
    p.add_argument("--paused", action="store_true", help="do not start training until Start is pressed")
    p.add_argument(
        "--no-timeline",
        action="store_true",
        help="keep no checkpoints of the run (no scrubbing back; for measuring what the timeline costs)",
    )
    p.add_argument(
        "--no-autosave",
        action="store_true",
        help="do not save the run to the cache directory every few minutes (the page still offers "
        "to restore the last autosave)",
    )
    p.add_argument(
        "--lecture",
        action="store_true",
        help="lecture mode: prints a presenter URL (secret token) and a viewer URL; viewers watch read-only "
        "(use with --host 0.0.0.0 so that the room can connect)",
    )
    p.add_argument(
        "--viewer-port",
        type=int,
        help="with --lecture: the port of the viewers' server (default: --port + 1)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="another host:port browsers may use to reach the page (e.g. behind a proxy)",
    )
    p.add_argument(
        "--new-token",
        action="store_true",
        help="a new presenter token: the old presenter link and the pages and cookies holding it change nothing",
    )
    return p.parse_args(argv)


def presenter_token(new):
    """The presenter's token, kept in the cache directory across restarts (app/lecture.py)."""
    from datasets import default_cache_dir

    from .lecture import load_token

    return load_token(default_cache_dir() / "presenter-token", new=new), default_cache_dir() / "presenter-token"


def print_presenter_link(lecture):
    presenter_url, _ = lecture.urls(lecture.host, lecture.port)
    print("New presenter link (the old one is revoked): %s" % presenter_url, flush=True)


def main(argv=None):
    args = parse_args(argv)
    from .core import paths
    from .origins import OriginError, origins

    try:  # this machine's names and addresses only, never "*" (app/origins.py)
        page_origins = origins(args.host, args.port, args.allow_origin)
    except OriginError as e:
        print("python -m app: %s" % e, file=sys.stderr)
        return 2

    problem = paths.check_packages()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    import engine
    import engine.fast

    # Numba's OpenMP threads sleep soon after a kernel: the training shares two cores with the
    # browser and the server (engine/fast/__init__.py).
    engine.fast.share_cores_with_a_server()
    snapshot = None
    if args.snapshot:
        try:
            snapshot = engine.read_snapshot(args.snapshot)
        except engine.SnapshotError as e:
            print("python -m app: --snapshot %s: %s" % (args.snapshot, e), file=sys.stderr)
            return 2
    if args.backend and args.backend not in paths.available_backends():
        print("python -m app: the %s backend does not import here; use --backend numpy" % args.backend, file=sys.stderr)
        return 2

    # The training thread needs the GIL between its kernels; while the server thread is busy
    # with sessions (a room of lecture viewers), each of those hand-overs may wait a whole switch
    # interval (5 ms by default): 0.5 ms costs training less (docs/BENCHMARKS.md, "GIL switch
    # interval with lecture viewers").
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    import panel as pn

    from . import sockets
    from .core import Runner
    from .dashboard import TITLE, create_app
    from .presenter_auth import route as login_route
    from .status import route as status_route

    runner = Runner(
        None, snapshot=snapshot, backend=args.backend, running=not args.paused, timeline=not args.no_timeline
    )

    def load():
        from datasets import load_dataset

        try:
            return load_dataset(args.data, download=True, progress=True, image_size=args.image_size)
        except Exception:
            if snapshot is None and paths.pretrained_path() is not None:
                runner.load_pretrained()  # no data: the pretrained net is there to inspect
            raise

    runner.load_data(load)
    runner.start_thread()
    lecture = relay = None
    if args.lecture:
        from .lecture import Lecture
        from .relay import RelayError, start_relay

        viewer_port = args.viewer_port or args.port + 1
        token, token_file = presenter_token(args.new_token)
        lecture = Lecture(token, viewer_port=viewer_port, token_file=token_file)
        try:
            relay = start_relay(
                runner, lecture, args.host, viewer_port, origins(args.host, viewer_port, args.allow_origin)
            )
        except RelayError as e:
            runner.stop()
            print("python -m app: %s (choose another with --viewer-port)" % e, file=sys.stderr)
            return 2
        presenter_url, viewer_url = lecture.urls(args.host, args.port)
        print("Lecture mode.\n  Presenter (keep this one to yourself): %s\n  Viewers: %s" % (presenter_url, viewer_url))
        if args.host in LOOPBACK:
            print("  (only this machine can connect: add --host 0.0.0.0 for the room)")
        sys.stdout.flush()
    elif args.host not in LOOPBACK:
        # Reachable from the network without a lecture: the page that holds the token drives
        # the run, every other page watches it read-only (served here: there is no relay).
        from .lecture import Lecture

        token, token_file = presenter_token(args.new_token)
        lecture = Lecture(token, guard=True, token_file=token_file)
        presenter_url, viewer_url = lecture.urls(args.host, args.port)
        print(
            "Listening on %s: only the page with the token changes the run.\n"
            "  Presenter (keep this one to yourself): %s\n  Others watch, read-only: %s"
            % (args.host, presenter_url, viewer_url)
        )
        sys.stdout.flush()
    if lecture is not None:
        lecture.host, lecture.port = args.host, args.port
        lecture.viewer_url = lecture.urls(args.host, args.port)[1]
        lecture.on_revoke = print_presenter_link
    if args.show and lecture is not None:  # the presenter's page, on this machine
        import threading
        import webbrowser

        local = "http://localhost:%d/?presenter=%s" % (args.port, lecture.token)
        threading.Timer(1.5, webbrowser.open, [local]).start()
    from .core.autosave import Autosaver

    autosaver = Autosaver(runner)
    if not args.no_autosave:
        autosaver.start()
    # What exists now (modules, the runner, the nets) lives as long as the process: out of the
    # garbage collector's sight, the full collection Panel runs a few seconds after a page
    # closes walks only the sessions' objects, and holds the GIL (and training) for about half as
    # long (docs/BENCHMARKS.md, "Garbage collection after a page closes").
    gc.freeze()
    sockets.install()  # no tracebacks in the terminal when a tab closes mid-message
    try:
        pn.serve(
            create_app(runner, lecture=lecture, autosaver=autosaver),
            address=args.host,
            port=args.port,
            show=args.show and lecture is None,
            title=TITLE,
            websocket_origin=page_origins,
            # uploads arrive in chunks (app/views/upload.py: 10 MB, 13.4 MB base64-encoded), within
            # Bokeh's default limit of 20 MiB per websocket message
            extra_patterns=[status_route(runner)] + ([login_route(lecture)] if lecture is not None else []),
        )
    except KeyboardInterrupt:
        pass
    finally:
        if relay is not None:
            relay.stop()
        autosaver.stop()
        if not args.no_autosave:
            autosaver.save()  # what trained since the last autosave: Ctrl-C loses nothing
        runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
