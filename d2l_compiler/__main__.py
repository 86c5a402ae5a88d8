"""Command line: ``python -m d2l_compiler build [options]``.

Exit status: 0 success, 1 a region or the site build failed, 2 bad invocation.
Errors are one line (plus, for a failing region, its traceback tail and a log path).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from typing import TYPE_CHECKING

from d2l_compiler.engine.publish.sitedir import HOSTS

if TYPE_CHECKING:
    from d2l_compiler.engine.build import BuildOptions
    from d2l_compiler.engine.sources.project import Project


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
    build.add_argument("--host", choices=HOSTS, default=HOSTS[0],
                       help="what builds the site from the record (default: mkdocs; zensical "
                       "needs `pip install zensical`)")
    build.add_argument("--only", metavar="PAGE", help="run one page (e.g. compilers.md)")
    build.add_argument("--force", action="store_true", help="re-run pages and rebuild the site even if "
                       "unchanged")
    build.add_argument("--verify", action="store_true",
                       help="build every page (or --only PAGE) from scratch twice in a scratch "
                            "state directory and name each region whose output differs from "
                            "the record: stale (exit 1) or nondeterministic; writes nothing of "
                            "the project's")
    build.add_argument("--publish", action="store_true",
                       help="a page shows results of one complete in-order run of it, never "
                            "results reused region by region (what CI and deploys build)")
    build.add_argument("--timeout", type=float, default=900.0,
                       help="seconds a page may run before it is killed (default: 900)")
    build.add_argument("--memory-limit", type=int, default=None, metavar="MIB",
                       help="address-space limit per page process, in MiB (default: none; "
                            "CPU builds only: CUDA cannot initialise under it)")
    build.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                       help="pages run at once (default: the number of cores); exclusive pages "
                            "always run alone, GPU pages one per free GPU")
    build.add_argument("--executor", choices=("local", "ray"), default=None,
                       help="where pages run: this machine (default) or a Ray cluster "
                            "(default when RAY_ADDRESS is set)")
    build.add_argument("--shard", metavar="K/N",
                       help="run shard K of N (balanced by the last record's durations) and "
                            "write .d2l/shards/K-of-N.json for `merge`; builds no site")
    build.add_argument("--gpu-shards", metavar="LIST",
                       help="with --shard: the shards (of the same N) that have a GPU (e.g. 4 "
                            "or 3,4); pages that want a GPU run on one of them and on one "
                            "CPU shard, the others on CPU shards only")
    merge = sub.add_parser("merge", help="merge build records (shards, CPU and GPU builds) and "
                                         "build the site from them, running nothing")
    merge.add_argument("records", nargs="+", metavar="RECORD", help="record files to merge")
    merge.add_argument("--config", default="mkdocs.yml", help="MkDocs config (default: mkdocs.yml)")
    merge.add_argument("--site-dir", default="site", help="where the site goes (default: site)")
    merge.add_argument("--no-site", action="store_true", help="write the merged record only")
    merge.add_argument("--prefer", choices=("cuda", "cpu"), default="cuda",
                       help="whose results a page shows first when it has several devices' "
                            "(default: cuda)")
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
    new = sub.add_parser("new", help="write the smallest book (one page, one code file) into "
                                     "a new folder")
    new.add_argument("folder", metavar="DIR", help="a folder that does not exist, or is empty")
    new.add_argument("--title", help="the book's title (default: from the folder's name)")
    return parser


def _new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from d2l_compiler.engine.scaffold import new_book

    folder = Path(args.folder)
    for path in new_book(folder, args.title):
        print(f"wrote {path}")
    print(f"next: cd {folder} && python -m d2l_compiler build && python -m d2l_compiler serve")
    return 0


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


def _verify(project: Project, options: BuildOptions) -> int:
    """``build --verify``: each differing region on a line, then the summary; 1 if stale."""
    from d2l_compiler.engine.verify import verify

    result = verify(project, options)
    for finding in result.findings:
        print(finding)
    print(result)
    return result.exit_code


def _build_options(args: argparse.Namespace) -> BuildOptions:
    """The build's options from the command line; ``UsageError`` (one line) if they are bad."""
    import os

    from d2l_compiler.engine.build import BuildOptions
    from d2l_compiler.engine.errors import UsageError
    from d2l_compiler.engine.run.runner import Limits
    from d2l_compiler.engine.run.schedule import default_jobs
    from d2l_compiler.engine.run.shard import parse_shard

    if not math.isfinite(args.timeout) or args.timeout <= 0 or (
            args.memory_limit is not None and args.memory_limit <= 0):
        raise UsageError("--timeout and --memory-limit must be positive finite numbers")
    if args.jobs is not None and not 1 <= args.jobs <= 1024:
        raise UsageError(f"--jobs {args.jobs}: expected a number of pages from 1 to 1024")
    if args.gpu_shards and not args.shard:
        raise UsageError("--gpu-shards needs --shard K/N")
    if args.shard and args.only:
        raise UsageError("--shard and --only cannot be combined: a shard's pages are chosen "
                         "for it")
    shard = parse_shard(args.shard, args.gpu_shards) if args.shard else None
    executor = args.executor or ("ray" if os.environ.get("RAY_ADDRESS") else "local")
    publish = getattr(args, "publish", False)
    return BuildOptions(only=args.only, force=args.force,
                        limits=Limits(args.timeout, args.memory_limit),
                        jobs=args.jobs or default_jobs(), executor=executor, shard=shard,
                        publish=publish, host=getattr(args, "host", "mkdocs"))


class Terminated(BaseException):
    """SIGTERM arrived (e.g. a cancelled CI job): unwind, cleaning up, and exit 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    from d2l_compiler.engine.build import build
    from d2l_compiler.engine.errors import BuildError, UsageError
    from d2l_compiler.engine.run.shard import shard_record_path
    from d2l_compiler.engine.sources.project import find_project

    try:
        if args.command == "check":
            return _check(args.config)
        if args.command == "bench-chapter":
            return _bench_chapter(args)
        if args.command == "new":
            return _new(args)
        project = find_project(args.config)
        if args.command == "serve":
            from d2l_compiler.engine.serve import serve

            host, _, port = args.dev_addr.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UsageError(f"--dev-addr {args.dev_addr!r} is not HOST:PORT "
                                 "(e.g. 127.0.0.1:8000)")
            return serve(project, args.dev_addr)
        if args.command == "merge":
            from pathlib import Path

            from d2l_compiler.engine.merging import merge

            site = None if args.no_site else project.root / args.site_dir
            merged = merge(project, [Path(r) for r in args.records], site, args.prefer)
            print(f"merged {len(args.records)} record(s): {len(merged.pages)} pages, devices "
                  f"{merged.provenance.device}; record: {project.record_path}")
            if site is not None:
                print(f"site: {site}")
            return 0
        if args.verify and args.shard:
            raise UsageError("--verify builds every page (or --only PAGE), not a shard")
        options = _build_options(args)
        if args.verify:
            return _verify(project, options)
        site = None if args.no_site or options.shard else project.root / args.site_dir
        summary = build(project, options, site)
        written = shard_record_path(project, options.shard) if options.shard else project.record_path
        print(f"{summary}; record: {written}")
        if site is not None:
            print(f"site: {site}" + (" (unchanged: nothing it is built from changed)"
                                     if summary.site_unchanged else ""))
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
