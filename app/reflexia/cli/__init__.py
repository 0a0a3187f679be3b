"""The ``reflexia`` command: the desktop app by default, plus headless sub-commands.

The sub-commands' flags are a contract (scripts depend on them): add, never
rename. Every error ends with exit status 1 and one line on stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from reflexia import __version__
from reflexia.cli.documents import add_documents_parser
from reflexia.cli.history import add_history_parser, cmd_history
from reflexia.core.errors import ReflexiaError
from reflexia.core.rag.values import DEFAULT_COLLECTION

log = logging.getLogger(__name__)


class CliError(ReflexiaError):
    """A bad command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("reflexia").strip()
        raise CliError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reflexia", description="Run large language models locally, well.")
    parser.add_argument("--version", action="version", version=f"reflexia {__version__}")
    parser.add_argument("--verbose", action="store_true", help="mirror the log to the console")
    parser.add_argument(
        "--background", action="store_true", help="start in the menubar without opening the window (login)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="offscreen: make a tiny model, answer a prompt, index and search a document, exit 0",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("quick", help="open the quick prompt (in the running Reflexia, or start it)")

    chat = commands.add_parser(
        "chat", help="answer one prompt, or hold a conversation read from standard input (one turn a line)"
    )
    chat_model_help = "a GGUF file, a name from `reflexia models`, or ollama:NAME"
    chat.add_argument("--model", required=True, metavar="REF", help=chat_model_help)
    chat.add_argument(
        "--prompt", default=None, help="the user's message; without it, turns are read from standard input"
    )
    chat.add_argument("--max-tokens", type=int, default=None, help="longest reply in tokens")
    chat.add_argument("--temperature", type=float, default=None, help="0 for greedy decoding")
    chat.add_argument("--seed", type=int, default=None, help="sampling seed for repeatable replies")
    chat.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    chat.add_argument(
        "--auto-quant", action="store_true", help="let the memory governor pick the model's quantization"
    )
    chat.add_argument(
        "--load-anyway", action="store_true", help="load even if the model does not fit in memory"
    )
    chat.add_argument("--role", default=None, help="the expert role to answer as (see `reflexia roles`)")
    chat.add_argument(
        "--save", action="store_true", help="keep the conversation in the history the window shows"
    )

    ask = commands.add_parser("ask", help="answer a question from a document collection, citing the sources")
    ask.add_argument("question", nargs="+", metavar="QUESTION", help="the question")
    ask.add_argument(
        "--model",
        required=True,
        metavar="REF",
        help="a GGUF file, a name from `reflexia models`, or ollama:NAME",
    )
    ask.add_argument(
        "--collection", default=DEFAULT_COLLECTION, metavar="NAME", help="the collection to search"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object: text, sources and stats")
    ask.add_argument("--role", default=None, help="the expert role to answer as (see `reflexia roles`)")
    ask.add_argument("--max-tokens", type=int, default=None, help="longest reply in tokens")
    ask.add_argument("--temperature", type=float, default=None, help="0 for greedy decoding")
    ask.add_argument("--seed", type=int, default=None, help="sampling seed for repeatable replies")
    ask.add_argument(
        "--load-anyway", action="store_true", help="load even if the model does not fit in memory"
    )

    demo = commands.add_parser("demo", help="a tour of what Reflexia does, headless (or --gui in the window)")
    demo.add_argument("--gui", action="store_true", help="show the chats in the window")

    roles = commands.add_parser("roles", help="list the expert roles")
    roles.add_argument("--json", action="store_true")

    inspect = commands.add_parser("inspect", help="show a GGUF file's metadata without loading it")
    inspect.add_argument("path", type=Path)
    inspect.add_argument("--json", action="store_true")

    quantize = commands.add_parser("quantize", help="write another quantization of a GGUF with llama.cpp")
    quantize.add_argument(
        "source", type=Path, help="the highest-precision GGUF of the model (f16, bf16, f32)"
    )
    quantize.add_argument("--to", required=True, dest="rung", help="q4_0, q4_k_m, q5_k_m, q8_0 or f16")
    quantize.add_argument("--out", type=Path, default=None, help="output path (default: next to the source)")
    quantize.add_argument("--json", action="store_true")

    models = commands.add_parser("models", help="list model families, their rungs and whether they fit")
    models.add_argument("--json", action="store_true")

    governor = commands.add_parser("governor", help="run the memory governor headless and print its events")
    governor.add_argument("--family", required=True, help="a model file or family name")
    governor.add_argument("--watch", required=True, type=float, metavar="SECONDS", help="how long to watch")
    governor.add_argument("--json", action="store_true", help="one JSON object per line")

    doctor = commands.add_parser("doctor", help="check the installation and say how to fix what is wrong")
    doctor.add_argument("--json", action="store_true")

    add_history_parser(commands)
    add_documents_parser(commands)

    dev = commands.add_parser("dev", help="developer tools")
    dev_commands = dev.add_subparsers(dest="dev_command", metavar="TOOL", required=True)
    make = dev_commands.add_parser("make-model", help="write a llama GGUF with random weights")
    make.add_argument("out", type=Path, help="output .gguf path (f16)")
    make.add_argument("--size", choices=("tiny", "small", "medium"), default="tiny")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--quant", default="", help="comma-separated rungs to write too, e.g. q4_k_m,q8_0")
    return parser


def _cmd_inspect(args: argparse.Namespace) -> int:
    from reflexia.core.models.gguf_file import read_gguf
    from reflexia.core.units import human_size

    info = read_gguf(args.path)
    if args.json:
        from reflexia.cli.library import fit_fields
        from reflexia.core.config.settings import load_settings

        print(json.dumps(info.to_json_dict() | fit_fields(info, load_settings().settings)))
        return 0
    rows = [
        ("file", str(info.path)),
        ("architecture", info.architecture),
        ("name", info.name or "—"),
        ("parameters", f"{info.parameter_count:,}"),
        ("quantization", info.quantization),
        ("context length", str(info.context_length or "—")),
        ("layers", str(info.block_count or "—")),
        ("heads", f"{info.head_count or '—'} (kv {info.head_count_kv or '—'})"),
        ("embedding", str(info.embedding_length or "—")),
        ("vocabulary", str(info.vocab_size or "—")),
        ("chat template", "yes" if info.chat_template else "no"),
        ("file size", f"{human_size(info.file_size)} ({info.file_size:,} bytes)"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    import time

    from reflexia.core.models.gguf_file import read_gguf
    from reflexia.core.models.ladder import LADDER
    from reflexia.core.models.quantizer import quantize_model

    rung = args.rung.strip().lower()
    if rung not in LADDER:
        raise CliError(f"quantize: unknown quantization {args.rung!r} (choose from {', '.join(LADDER)})")
    read_gguf(args.source)  # a clear message for a bad source before llama.cpp sees it
    started = time.perf_counter()
    output = quantize_model(args.source, rung, args.out)
    seconds = time.perf_counter() - started
    info = read_gguf(output)
    if args.json:
        summary = {
            "source": str(args.source),
            "output": str(output),
            "quantization": info.quantization,
            "file_size": info.file_size,
            "seconds": round(seconds, 3),
        }
        print(json.dumps(summary))
    else:
        print(f"{output} ({info.quantization}, {info.file_size:,} bytes) in {seconds:.2f} s")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from reflexia.core.config.settings import load_settings
    from reflexia.core.diagnostics.doctor import run_checks

    checks = run_checks(load_settings())
    if args.json:
        print(
            json.dumps(
                {"ok": all(c.status != "error" for c in checks), "checks": [c.to_json_dict() for c in checks]}
            )
        )
    else:
        for check in checks:
            print(f"{check.status:<8} {check.name:<14} {check.detail}")
            if check.fix:
                print(f"{'':8} {'':14} fix: {check.fix}")
    return 1 if any(c.status == "error" for c in checks) else 0


def _cmd_make_model(args: argparse.Namespace) -> int:
    from reflexia.core.models.ladder import LADDER
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    if args.out.is_dir():
        raise CliError(f"dev make-model: {args.out} is a directory; give a .gguf file path")
    rungs = [r.strip().lower() for r in args.quant.split(",") if r.strip()]
    unknown = [r for r in rungs if r not in LADDER]
    if unknown:
        choices = ", ".join(LADDER)
        raise CliError(f"dev make-model: unknown quantization {', '.join(unknown)} (choose from {choices})")
    path = make_model(args.out, size=args.size, seed=args.seed)
    print(path)
    for rung in rungs:
        if rung != "f16":
            print(quantize_model(path, rung))
    return 0


def _log_start(what: str, log_path: Path) -> None:
    import platform

    log.info(
        "reflexia %s starting: %s (Python %s, %s %s), log %s",
        __version__, what, platform.python_version(), platform.system(), platform.machine(), log_path,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reflexia`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Model output may hold any character; a console that cannot show one gets a '?', not a crash.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    try:
        args = _build_parser().parse_args(arguments)
        from reflexia.core.config.logging_setup import configure_logging
        from reflexia.core.config.settings import load_settings

        if args.self_test:
            from reflexia.self_test import run_self_test

            _log_start("self-test", configure_logging("INFO", verbose=args.verbose))
            return run_self_test()
        if args.command in (None, "quick"):
            from reflexia.desktop import run_gui

            loaded = load_settings()
            log_path = configure_logging(loaded.settings.logging.level, verbose=args.verbose)
            _log_start("app", log_path)
            request = "quick" if args.command == "quick" else "background" if args.background else "show"
            return run_gui(loaded, [sys.argv[0]], request)
        _log_start(args.command, configure_logging("INFO", verbose=args.verbose))
        from reflexia.cli import documents as cli_documents
        from reflexia.cli import library as cli_library
        from reflexia.cli.ask import cmd_ask
        from reflexia.cli.chat import cmd_chat, cmd_roles
        from reflexia.cli.demo import cmd_demo

        commands: dict[str, Callable[[argparse.Namespace], int]] = {
            "chat": cmd_chat,
            "ask": cmd_ask,
            "roles": cmd_roles,
            "demo": cmd_demo,
            "inspect": _cmd_inspect,
            "quantize": _cmd_quantize,
            "doctor": _cmd_doctor,
            "models": cli_library.cmd_models,
            "governor": cli_library.cmd_governor,
            "history": cmd_history,
            "index": cli_documents.cmd_index,
            "search": cli_documents.cmd_search,
            "collections": cli_documents.cmd_collections,
            "forget": cli_documents.cmd_forget,
            "dev": _cmd_make_model,
        }
        return commands[args.command](args)
    except ReflexiaError as exc:
        if logging.getLogger("reflexia").handlers:  # unconfigured, logging would print a 2nd line
            log.error("%s", exc)
        print(f"reflexia: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `reflexia chat ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("reflexia: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the contract: one line, never a traceback
        log.exception("unexpected error")
        print(f"reflexia: unexpected error: {exc} (details in the log file)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
