"""``afirs-dspy train-recsys``: train (or reload) the SASRec tool model for a dataset."""
from __future__ import annotations

import click

from afirs_dspy.cli import checks
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.recsys.artifacts import load_or_train, resolve_device
from afirs_dspy.utils.paths import artifacts_dir as resolve_artifacts, checkpoint_dir, training_state_path
from afirs_dspy.recsys.config import default_config
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.recsys.training_state import describe_training_state
from afirs_dspy.utils.tables import markdown_table

SHOWN_METRICS = ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "HR@50", "NDCG@50")


def metrics_table(metrics: dict) -> str:
    """SASRec (dot product, and cosine: the tool's ranking) beside popularity on valid and test."""
    models = (("SASRec", metrics), ("SASRec tool (cosine)", metrics.get("cosine")), ("popularity", metrics["popularity"]))
    rows = [
        {"model": model, "split": split, **{m: values[split][m] for m in SHOWN_METRICS}}
        for model, values in models if values is not None
        for split in ("valid", "test")
    ]
    return markdown_table(rows)


@click.command("train-recsys")
@dataset_options
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses CUDA when torch sees a GPU.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Maximum epochs (early stopping may end sooner). Default: the dataset's default.")
@click.option("--seed", type=int, default=None, help="Random seed. Default: the dataset's default.")
@click.option("--force", is_flag=True, help="Retrain even when a matching checkpoint exists.")
@click.option("--fresh", is_flag=True, help="Do not resume an interrupted training; start it over.")
@click.option("--artifacts-dir", type=click.Path(file_okay=False), default=None,
              help="Artifacts root. Default: $AFIRS_ARTIFACTS_DIR or ./artifacts.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch CPU threads. Default: torch's (all cores); 1 is faster when other work shares the cores.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_recsys(data: DatasetSpec, device: str, epochs: int | None, seed: int | None, force: bool, fresh: bool,
                 artifacts_dir: str | None, threads: int | None, quiet: bool) -> None:
    """Train SASRec (full-softmax SASRec+ recipe) and save it with its config and metrics.

    Training stops early on the validation split; then the weights of the priors added to the scores
    (popularity, and co-occurrence with the history in the training sequences) are chosen on validation
    (0 where they do not help), for the dot-product and the cosine ranking the tool uses, and the model
    is trained again for the chosen number of epochs with the validation targets (the saved model).

    A checkpoint trained on the same prepared data with the same config is
    reloaded instead; full-ranking test/valid metrics are printed beside popularity.
    Training is saved after every epoch: after Ctrl-C or a crash the same command resumes it.
    """
    try:
        torch_device = resolve_device(device)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    checks.writable_folder(resolve_artifacts(artifacts_dir), "--artifacts-dir")
    dataset = data.load()
    overrides = {k: v for k, v in (("max_epochs", epochs), ("seed", seed)) if v is not None}
    config = default_config(dataset.name, **overrides)
    with torch_threads(threads):
        try:
            checkpoint, how = load_or_train(dataset, config, artifacts_dir, torch_device, force=force,
                                            progress=not quiet, fresh=fresh)
        except KeyboardInterrupt:
            refit_state = training_state_path(dataset.name, artifacts_dir, refit=True)
            state = refit_state if refit_state.is_file() else training_state_path(dataset.name, artifacts_dir)
            kept = describe_training_state(state)
            click.echo("\ninterrupted; " + (f"the training up to {kept} is kept in {state}: run the same command to "
                                             "resume it (--fresh starts over)" if kept else
                                             "no epoch had finished, so there is nothing to resume"), err=True)
            raise click.exceptions.Exit(130) from None
    metrics = checkpoint.metrics
    click.echo(f"{dataset.name}: SASRec {how}")
    click.echo(f"checkpoint: {checkpoint_dir(dataset.name, artifacts_dir)}")
    refit = metrics.get("refit_epochs", 0)
    click.echo(
        f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']}"
        + (f", then {refit} epochs on train + valid targets" if refit else "")
        + f", {metrics['seconds_per_epoch']:.2f} s/epoch, {metrics['total_seconds']:.1f} s in all "
        f"on {metrics['machine']['device']}"
    )
    weights = checkpoint.prior_weights
    click.echo("score prior (weights chosen on validation): " + ("; ".join(
        f"{scoring}: popularity {w.popularity:g}, co-occurrence {w.cooccurrence:g} (decay {w.decay:g})"
        for scoring, w in sorted(weights.items())) if weights else "none"))
    click.echo(metrics_table(metrics))
    echo_next()
