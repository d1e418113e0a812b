"""`notedraft eval`: run the eval suite, or re-score a log.

    notedraft eval [--strategy S ...] [--model M ...] [--concurrency N] [--no-cache] [--out DIR]
                   [--format text|json] [--check] [--baseline DIR]
    notedraft eval rescore LOG [--out DIR] [--format text|json] [--check] [--baseline DIR]

The main CLI delegates with:

    from notedraft.evals import cli as eval_cli
    p = subparsers.add_parser("eval", help=eval_cli.HELP, description=eval_cli.DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    eval_cli.add_arguments(p)
    ...
    return eval_cli.run(args)        # 0 ok, 1 gate failed (--check), 2 bad input or configuration

This module imports only the standard library at import time so `notedraft validate` stays fast; the runner,
pydantic models and the LLM client load inside `run()`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "score drafting strategies × models and the validator on the eval datasets"
DESCRIPTION = __doc__.split("\n\n")[1] if __doc__ else HELP
STRATEGY_CHOICES = ("template", "llm-extract", "llm-compose")
DEFAULT_OUT = "runs/eval"
DEFAULT_CACHE = ".notedraft-cache"
LOCAL_TIMEOUT_S = 180.0
LOCAL_PORT = 8089  # notedraft.localllm's own default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("eval_action", nargs="*", metavar="rescore LOG",
                        help="re-score an existing samples.jsonl without calling any model")
    parser.add_argument("--strategy", action="append", choices=STRATEGY_CHOICES, dest="strategies",
                        help="drafting strategy to evaluate (repeatable; default: template)")
    parser.add_argument("--model", action="append", dest="models",
                        help="model for the llm strategies (repeatable; default: NOTEDRAFT_MODEL from the environment)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL)")
    parser.add_argument("--local-llm", action="store_true",
                        help="start the bundled local LLM (xllamacpp + SmolLM2) for the llm strategies")
    parser.add_argument("--concurrency", type=int, default=4, help="samples in flight at once (default: 4)")
    parser.add_argument("--no-cache", action="store_true", help="call the model even when a reply is cached")
    parser.add_argument("--cache-dir", help=f"response cache (default: OUT/cache with --out, else {DEFAULT_CACHE}/)")
    parser.add_argument("--out", help=f"where the log and reports go (default: {DEFAULT_OUT}/)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="what to print on stdout")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a deterministic metric is outside its bound in the thresholds file")
    parser.add_argument("--thresholds", help="thresholds file (default: evals/thresholds.toml)")
    parser.add_argument("--baseline", help="a previous --out folder (or its summary.json) to compare against")
    parser.add_argument("--datasets", help="folder holding drafting.jsonl and validator.jsonl (default: evals/)")
    parser.add_argument("--realnotes", help="real notes folder with index.json (default: ../shared/realnotes)")
    parser.add_argument("--no-realnotes", action="store_true", help="leave the real notes out")
    parser.add_argument("--only", choices=("drafting", "validator"),
                        help="run only the drafting cases or only the validator cases")
    parser.add_argument("--case", action="append", dest="cases", metavar="PATTERN",
                        help="only cases whose id matches this glob (repeatable)")
    parser.add_argument("--limit", type=int, help="only the first N drafting cases")
    parser.add_argument("--llm-sample", type=int, metavar="N",
                        help="run the llm strategies on a stratified subset of N drafting cases (every path x side "
                        "first, then each refusal kind); template still runs on all")
    parser.add_argument("--prices", help="price table (default: evals/prices.toml)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")


class UsageError(Exception):
    """Bad input or configuration: one line on stderr, exit 2."""


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"notedraft eval: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("notedraft eval: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    action = list(args.eval_action or [])
    if action:
        if action[0] != "rescore" or len(action) != 2:
            raise UsageError("expected `notedraft eval rescore LOG` or options only; got " + " ".join(action))
        return _rescore(args, Path(action[1]))
    return _evaluate(args)


def _evals_dir(args) -> Path:
    from .dataset import default_evals_dir

    return Path(args.datasets) if args.datasets else default_evals_dir()


def _prices(args):
    from .scorers import PriceTable

    path = Path(args.prices) if args.prices else _evals_dir(args) / "prices.toml"
    if args.prices and not path.is_file():
        raise UsageError(f"price table not found: {path}")
    try:
        return PriceTable.load(path)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"cannot read price table {path}: {exc}") from exc


def _finish(args, output, out_dir: Path | None) -> int:
    """Baseline deltas, gate, reports, stdout; the exit code."""
    import json

    from . import report
    from .gate import GateError, check, load_thresholds

    summary = output.summary
    if args.baseline:
        try:
            base = report.load_baseline(args.baseline)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read baseline {args.baseline}: {exc}") from exc
        summary["baseline"] = {"dir": str(args.baseline), "run_id": (base.get("run") or {}).get("id"),
                               "deltas": report.deltas(summary, base)}
    thresholds_path = Path(args.thresholds) if args.thresholds else _evals_dir(args) / "thresholds.toml"
    if args.check or thresholds_path.is_file():
        if not thresholds_path.is_file():
            raise UsageError(f"--check needs a thresholds file; not found: {thresholds_path}")
        from .scorers import all_metrics, drafting_scorers, validator_scorers

        known = set(all_metrics(drafting_scorers() + validator_scorers())) | {"samples", "passed"}
        try:
            summary["gate"] = check(summary, load_thresholds(thresholds_path), known=known)
        except GateError as exc:
            raise UsageError(str(exc)) from exc
        summary["gate"]["file"] = str(thresholds_path)
        summary["gate"]["enforced"] = bool(args.check)
    if out_dir is not None:
        summary.setdefault("run", {})["out"] = str(out_dir)
        report.write_reports(out_dir, summary, output.results)
    if args.format == "json":
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(report.render_text(summary))
    if args.check and not summary["gate"]["passed"]:
        return 1
    return 0


def _rescore(args, log: Path) -> int:
    if not log.is_file():
        raise UsageError(f"no such log: {log}")
    from .runner import rescore

    try:
        output = rescore(log, prices=_prices(args) if args.prices else None)
    except ValueError as exc:
        raise UsageError(f"cannot rescore {log}: {exc}") from exc
    return _finish(args, output, Path(args.out) if args.out else None)


def _evaluate(args) -> int:
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    strategies = list(dict.fromkeys(args.strategies or ["template"]))
    from .dataset import DatasetError, load_datasets

    evals_dir = _evals_dir(args)
    if not (evals_dir / "drafting.jsonl").is_file():
        raise UsageError(f"no eval datasets in {evals_dir}: pass --datasets DIR (a folder with drafting.jsonl "
                         "and validator.jsonl)")
    include = ("drafting", "validator", "realnotes")
    if args.only == "drafting":
        include = ("drafting",)
    elif args.only == "validator":
        include = ("validator", "realnotes")
    if args.no_realnotes:
        include = tuple(i for i in include if i != "realnotes")
    realnotes = args.realnotes if args.realnotes else "default"
    if args.realnotes and not Path(args.realnotes, "index.json").is_file():
        raise UsageError(f"no index.json in {args.realnotes}")
    try:
        datasets = load_datasets(evals_dir, realnotes, include=include)
    except (DatasetError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    _filter(datasets, args)
    if not datasets.drafting and not datasets.validator:
        raise UsageError("no case selected")

    out_dir = Path(args.out) if args.out else Path(DEFAULT_OUT)
    cache_dir = Path(args.cache_dir) if args.cache_dir else (out_dir / "cache" if args.out else Path(DEFAULT_CACHE))
    prices = _prices(args)
    server = None
    try:
        arms, server = _arms(args, strategies, None if args.no_cache else cache_dir, bool(datasets.drafting))
        if args.llm_sample is not None:
            from .dataset import stratified_sample

            subset = {c.id for c in stratified_sample(datasets.drafting, max(1, args.llm_sample))}
            for arm in arms:
                if arm.llm is not None:
                    arm.case_ids = subset
        from .runner import RunConfig, git_revision, run

        config = RunConfig(
            out_dir=out_dir, concurrency=args.concurrency, progress=args.progress, prices=prices,
            run_info={"git": git_revision(evals_dir.parent), "strategies": strategies,
                      "cache": None if args.no_cache else str(cache_dir), "datasets": str(evals_dir),
                      "realnotes": datasets.realnotes_dir},
        )
        output = run(datasets, arms, config)
    finally:
        if server is not None:
            server.stop()
    return _finish(args, output, out_dir)


def _filter(datasets, args) -> None:
    from fnmatch import fnmatchcase

    if args.cases:
        datasets.drafting = [c for c in datasets.drafting if any(fnmatchcase(c.id, p) for p in args.cases)]
        datasets.validator = [c for c in datasets.validator if any(fnmatchcase(c.id, p) for p in args.cases)]
    if args.limit is not None:
        datasets.drafting = datasets.drafting[: max(0, args.limit)]


def _arms(args, strategies: list[str], cache_dir: Path | None, drafting: bool):
    """One arm per (strategy, model); template runs once with no model. Returns (arms, local server or None)."""
    from .runner import Arm

    if not drafting:
        return [], None
    arms: list = []
    llm_strategies = [s for s in strategies if s != "template"]
    if "template" in strategies:
        arms.append(Arm(strategy="template"))
    if not llm_strategies:
        return arms, None

    from ..llm import LLMClient, LLMConfig, ResponseCache

    server = None
    configs = []
    if args.local_llm:
        from .. import localllm

        missing = localllm.missing_requirement()
        if missing:
            raise UsageError(f"--local-llm: {missing}")
        server = LocalServer.start()
        for model in args.models or [localllm.MODEL_NAME]:
            # one slot on 2 shared cores: a call may wait behind another arm's; a transport retry would only
            # queue the same work again
            configs.append(localllm.llm_config(server.base_url, model=model, timeout=LOCAL_TIMEOUT_S,
                                               max_transport_retries=1))
    else:
        for model in args.models or [None]:
            config = LLMConfig.from_env(model=model, base_url=args.base_url)
            if config is None:
                raise UsageError(
                    f"{', '.join(llm_strategies)} needs an LLM endpoint: set OPENAI_BASE_URL and/or OPENAI_API_KEY "
                    "(and NOTEDRAFT_MODEL), pass --base-url, or use --local-llm"
                )
            config = _local_defaults(config)
            configs.append(config)
    cache = ResponseCache(cache_dir) if cache_dir is not None else None
    for config in configs:
        client = LLMClient(config, cache=cache)
        for strategy in llm_strategies:
            arms.append(Arm(strategy=strategy, model=config.model, base_url=client.base_url, llm=client,
                            max_concurrency=1 if server is not None else None,
                            pool="local-llm" if server is not None else None))
    return arms, server


class LocalServer:
    """The bundled local LLM as a child process (notedraft.localllm.ChildServer), on a fixed port when it is free."""

    def __init__(self, child) -> None:
        self.child, self.base_url = child, child.base_url

    @classmethod
    def start(cls, threads: int = 2, port: int | None = None) -> LocalServer:
        """On a fixed port when it is free: the response cache is keyed by base URL, so the same port on every
        run is what lets a re-run reuse the local model's replies. Falls back to any free port."""
        from ..localllm import ChildServer

        port = LOCAL_PORT if port is None else port
        if port and not _port_free(port):
            port = 0
        try:
            return cls(ChildServer(port=port, threads=threads))
        except RuntimeError as exc:
            if port:  # lost a race for the fixed port: any free one will do
                return cls.start(threads, 0)
            raise UsageError(f"--local-llm: the local LLM did not start: {exc}") from None

    def stop(self) -> None:
        self.child.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _local_defaults(config):
    """The bundled local model needs its deterministic request settings wherever it is served from."""
    try:
        from .. import localllm
    except ImportError:  # pragma: no cover
        return config
    if config.model == localllm.MODEL_NAME and not config.extra_body:
        return config.model_copy(update={"extra_body": localllm.default_extra_body(), "temperature": 0})
    return config


def main(argv: list[str] | None = None) -> int:
    """`python -m notedraft.evals ...` — the same command without the main CLI."""
    parser = argparse.ArgumentParser(prog="notedraft eval", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
