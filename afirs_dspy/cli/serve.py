"""``afirs-dspy serve``: talk to the recommender in a browser and see each turn explained."""
from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import click

from afirs_dspy.cli.lm_options import open_lm, program_lm_options
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.compiled.program_file import load_program
from afirs_dspy.artifacts.context import load_context
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.programs.registry import METHODS


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


@click.command("serve")
@dataset_options
@click.option("--program", "program_path", type=click.Path(dir_okay=False), default=None,
              help="A compiled program (`afirs-dspy compile`), offered first; its manifest gives the dataset and the LM.")
@click.option("--method", type=click.Choice(METHODS), default="afirs", show_default=True,
              help="The method the page starts with (any other can be picked in the page).")
@program_lm_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the default serves this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True, help="Port to listen on.")
def serve_command(data: DatasetSpec, program_path, method, lm_spec, api_base, artifacts_dir, host, port) -> None:
    """Serve a web page to talk to the recommender: the chat, and for each turn the tree path, the two-stage
    funnel, the decision, a question's aspect distribution, item cards and each step's LM cost. The data, the
    artifacts and the LM are loaded on the first request; a problem shows in the page as one line."""
    try:
        import uvicorn

        from afirs_dspy.web.app import make_app
        from afirs_dspy.web.demo import Demo, Loaded
    except ImportError as exc:
        raise click.ClickException(f"serve needs {exc.name}: pip install -e \".[serve]\"") from None
    _check_port(host, port)
    with contextlib.ExitStack() as stack:
        engines = stack.enter_context(LocalEngines())
        label = f"compiled: {Path(program_path).name}" if program_path else None

        def load() -> Loaded:
            if program_path:
                compiled = stack.enter_context(load_program(program_path, lm_spec, api_base, artifacts_dir,
                                                            data.raw_dir, data.cache_dir))
                return Loaded(compiled.context, compiled.lm, {label: compiled.program})
            context = load_context(data.load(), artifacts_dir)
            return Loaded(context, open_lm(lm_spec, api_base, engines))

        methods = [label, *METHODS] if label else [method, *(m for m in METHODS if m != method)]
        demo = Demo(load, methods)
        click.echo(f"afirs-dspy serve: open http://{'[' + host + ']' if ':' in host else host}:{port}/ "
                   "(Ctrl-C stops it)")
        uvicorn.run(make_app(demo), host=host, port=port, log_level="warning")
