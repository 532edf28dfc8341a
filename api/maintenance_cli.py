"""`visitlens reindex|reanalyse|train`: rebuild what is derived from the stored visits."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer

from knowledge.settings import Settings


def reindex(
    reset: Annotated[
        bool, typer.Option(help="Drop the collections first (embedding change).")
    ] = True,
) -> None:
    """Rebuild the Chroma knowledge base from the database, the source of truth."""
    from rich.progress import track
    from sqlalchemy import select

    from knowledge import keyword_index
    from knowledge.db import make_engine, make_sessionmaker, session_scope
    from knowledge.models import PipelineStep, Step, StepStatus
    from knowledge.vector_index import shared
    from workers.index import index_visit

    settings = Settings()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as db:
        visit_ids = db.scalars(
            select(PipelineStep.visit_id).where(
                PipelineStep.step == Step.ANALYSE, PipelineStep.status == StepStatus.DONE
            )
        ).all()
    if reset:
        shared(settings.chroma_url).reset()
        with session_scope(sessions) as db:
            keyword_index.reset(db)
    written = sum(index_visit(settings, sessions, v) for v in track(visit_ids, "indexing"))
    typer.echo(
        f"indexed {written} utterances of {len(visit_ids)} visits; searches see them at once"
    )


def reanalyse(
    visit_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Visits to analyse again; every finished visit when none is given."),
    ] = None,
) -> None:
    """Analyse finished visits again and re-index them (after `visitlens train` or an edit in
    prompts/); the running workers do the work."""
    from sqlalchemy import select

    from knowledge.db import make_engine, make_sessionmaker
    from knowledge.models import Step, Visit, VisitStatus
    from workers import dispatch
    from workers.celery_app import make_celery

    settings = Settings()
    wanted = set(visit_ids or [])
    with make_sessionmaker(make_engine(settings.database_url))() as db:
        query = select(Visit.id).where(Visit.status == VisitStatus.DONE)
        if wanted:
            query = query.where(Visit.id.in_(wanted))
        ids = list(db.scalars(query))
        if wanted - set(ids):
            missing = ", ".join(sorted(wanted - set(ids)))
            typer.echo(f"not found or not finished yet: {missing}", err=True)
            raise typer.Exit(2)
        celery = make_celery(settings)
        for visit_id in ids:
            dispatch.rerun_from(db, celery, visit_id=visit_id, step=Step.ANALYSE)
    typer.echo(f"{len(ids)} visits queued for analysis and indexing")


def train(
    with_corrections: Annotated[
        bool, typer.Option(help="Add people's corrections from the database.")
    ] = True,
) -> None:
    """Retrain the label classifier from prompts/examples (and the stored corrections) and the
    commitment classifier from prompts/commitments, into a new version in the models folder
    that every API process and worker then uses; prompts/ is left as it is."""
    from knowledge import analysis
    from knowledge.db import make_engine, make_sessionmaker
    from nlp import weight_versions
    from nlp.classify import train_classifier
    from nlp.commitments import ENCODERS, train_acts
    from nlp.embed import E5_LATENT_TERMS

    settings = Settings()
    corrections: list[tuple[str, list[str]]] = []
    if with_corrections:
        with make_sessionmaker(make_engine(settings.database_url))() as db:
            corrections = [(c.text, list(c.labels)) for c in analysis.corrections(db)]
    staged = weight_versions.staging_dir(settings.models_dir)
    try:
        weights = train_classifier(settings.prompts_dir, corrections, staged)
        acts_sha = train_acts(settings.prompts_dir, staged)
        manifest = weight_versions.publish(
            staged,
            encoders={
                weight_versions.LABEL_WEIGHTS: [
                    *weights.hyper.encoders,
                    *([E5_LATENT_TERMS] if weights.latent_rows.size else []),
                ],
                weight_versions.ACT_WEIGHTS: list(ENCODERS),
            },
            training_data={
                weight_versions.LABEL_WEIGHTS: weights.examples_sha,
                weight_versions.ACT_WEIGHTS: acts_sha,
            },
        )
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone already once published
    typer.echo(
        f"classifier retrained with {len(corrections)} corrections as version "
        f"{manifest.version} in {settings.models_dir / weight_versions.VERSIONS}; the API and "
        "workers use it from their next request or analysis, and `visitlens reanalyse` runs it "
        "over the visits already analysed"
    )
