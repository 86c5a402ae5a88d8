"""Command line: ``python -m d2l_compiler build [options]``.

Exit status: 0 success, 1 a region or the site build failed, 2 bad invocation.
Errors are one line (plus, for a failing region, its traceback tail and a log path).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2, no usage dump
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m d2l_compiler", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="run the pages' regions, record them, build the site")
    build.add_argument("--config", default="mkdocs.yml", help="MkDocs config (default: mkdocs.yml)")
    build.add_argument("--site-dir", default="site", help="where the site goes (default: site)")
    build.add_argument("--no-site", action="store_true", help="run and record only")
    build.add_argument("--only", metavar="PAGE", help="run one page (e.g. compilers.md)")
    build.add_argument("--force", action="store_true", help="re-run pages even if unchanged")
    build.add_argument("--timeout", type=float, default=900.0,
                       help="seconds a page may run before it is killed (default: 900)")
    build.add_argument("--memory-limit", type=int, default=None, metavar="MIB",
                       help="address-space limit per page process, in MiB (default: none)")
    bench = sub.add_parser("bench-chapter", help="the chapter's measurement on this machine, "
                                                 "beside a published build's numbers")
    bench.add_argument("--published", metavar="PATH_OR_URL",
                       help="a build record (d2l-record.json) to compare with")
    bench.add_argument("--quick", action="store_true", help="short smoke measurement")
    bench.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256], metavar="N")
    bench.add_argument("--paths", nargs="+", metavar="PATH",
                       help="which paths to measure (default: all; eager is always included)")
    check = sub.add_parser("check", help="run nothing; fail if stored results are stale")
    check.add_argument("--config", default="mkdocs.yml", help="MkDocs config (default: mkdocs.yml)")
    serve = sub.add_parser("serve", help="live preview: mkdocs serve, re-running what an edit "
                                         "affects")
    serve.add_argument("--config", default="mkdocs.yml", help="MkDocs config (default: mkdocs.yml)")
    serve.add_argument("--dev-addr", default="127.0.0.1:8000", metavar="HOST:PORT",
                       help="where to serve (default: 127.0.0.1:8000)")
    return parser


def _check(config: str) -> int:
    from d2l_compiler.engine.record.freshness import check
    from d2l_compiler.engine.sources.project import find_project

    stale = 0
    for page, reasons in check(find_project(config)).items():
        print(f"{'stale' if reasons else 'fresh'}  {page}" + (f": {'; '.join(reasons)}" if reasons else ""))
        stale += bool(reasons)
    if stale:
        print(f"error: {stale} page(s) have stale results: run `python -m d2l_compiler build`",
              file=sys.stderr)
    return 1 if stale else 0


def _bench_chapter(args: argparse.Namespace) -> int:
    from .bench_chapter import PublishedError, run
    from d2l_compiler.engine.errors import UsageError
    from .device import DeviceUnavailable
    from .paths import PATHS

    if any(n < 1 for n in args.batch_sizes):
        raise UsageError("--batch-sizes must be positive")
    unknown = sorted(set(args.paths or []) - set(PATHS))
    if unknown:
        raise UsageError(f"unknown path(s) {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    paths = [p for p in PATHS if p == "eager" or p in (args.paths or PATHS)]
    try:
        print(run(args.published, args.quick, args.batch_sizes, paths))
    except (PublishedError, DeviceUnavailable) as exc:
        raise UsageError(str(exc)) from None
    return 0


class Terminated(BaseException):
    """SIGTERM arrived (e.g. a cancelled CI job): unwind, cleaning up, and exit 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    from d2l_compiler.engine.build import BuildOptions, build
    from d2l_compiler.engine.errors import BuildError, UsageError
    from d2l_compiler.engine.sources.project import find_project
    from d2l_compiler.engine.run.runner import Limits

    try:
        if args.command == "check":
            return _check(args.config)
        if args.command == "bench-chapter":
            return _bench_chapter(args)
        project = find_project(args.config)
        if args.command == "serve":
            from d2l_compiler.engine.publish.serve import serve

            host, _, port = args.dev_addr.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UsageError(f"--dev-addr {args.dev_addr!r} is not HOST:PORT "
                                 "(e.g. 127.0.0.1:8000)")
            return serve(project, args.dev_addr)
        if not math.isfinite(args.timeout) or args.timeout <= 0 or (
                args.memory_limit is not None and args.memory_limit <= 0):
            raise UsageError("--timeout and --memory-limit must be positive finite numbers")
        options = BuildOptions(only=args.only, force=args.force,
                               limits=Limits(args.timeout, args.memory_limit))
        site = None if args.no_site else project.root / args.site_dir  # absolute stays absolute
        summary = build(project, options, site)
        print(f"{summary}; record: {project.record_path}")
        if site is not None:
            print(f"site: {site}")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a full disk, a read-only directory: one line, nothing published
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; the site was left unchanged", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated (SIGTERM); cleaned up, the site was left unchanged", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
