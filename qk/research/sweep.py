"""Parameter sweeps on Optuna: TPE or grid, worker processes sharing one RDB study.

Every worker process opens the same Optuna storage (SQLite file by default, or a PostgreSQL
URL so workers on other hosts can join) and the same study name, then loops: ask a batch of
trials, evaluate them (one kernel call per batch on the vectorised path, one backtest per trial
on the event engine), tell the results. The study counts trials across every worker and host,
so ``--trials`` is a study-wide budget: trials numbered ``>= trials`` are pruned unevaluated.

Each trial gets a seed derived from (study seed, trial number) (:func:`trial_seed`), stored in
its ``qk`` user attribute (with its metrics) and used for anything random in the trial (a sampled latency on the
event engine). A parameter set the strategy refuses (``fast >= slow``) or that the vectorised
path cannot reproduce exactly is PRUNED with the reason under ``refused`` in that attribute; a set
whose objective is undefined (Sharpe without any return variance) is PRUNED the same way.

Tracked sweeps (``tracking`` given to :func:`run_sweep`) are a ``sweep`` run in the run store,
started before the workers; every worker records each trial it completes as a ``trial`` run under
it (:class:`qk.runs.TrialRecorder`) and stores that run id with the trial, so results.csv and
best_params.json name the run of each trial.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import optuna

from qk.backtest.cli import SYNTHETIC_SEED, SYNTHETIC_TRADES, load_trades
from qk.research.errors import ResearchError, ResearchErrorReason
from qk.research.evaluator import Evaluator, check_objective, trial_seed
from qk.research.metric_names import METRIC_NAMES
from qk.research.space import SearchSpace, parse_space
from qk.runs import Tracking, TrialRecorder, fingerprint_array, finish_sweep, start_sweep
from qk.strategy import load_descriptor

__all__ = ["SweepConfig", "SweepSummary", "run_sweep", "run_worker"]

_R = ResearchErrorReason
SAMPLERS: Final = ("tpe", "grid")
VECTOR_BATCH: Final = 32
"""Trials one vectorised worker asks for and evaluates in one kernel call."""
_POLL_S: Final = 0.25


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """What ``qk sweep`` runs (see :func:`run_sweep`).

    Attributes:
        config: Deployment descriptor.
        params: ``--param`` search-space items.
        out: Output directory (results.csv, best_params.json, sweep_report.html).
        sampler: ``"tpe"`` or ``"grid"``.
        trials: Study-wide trial budget (a grid stops at its size).
        jobs: Worker processes on this host.
        storage: Optuna RDB URL; None: ``sqlite:///<out>/study.db``.
        study: Study name (workers on other hosts join by it).
        data: Trades file; None: seeded synthetic trades.
        synthetic_trades: Number of synthetic trades.
        data_seed: Seed of the synthetic trades.
        engine: ``"vectorized"`` or ``"event"``.
        objective: Metric maximised.
        seed: Study seed (sampler seeds and per-trial seeds derive from it).
    """

    config: Path
    params: tuple[str, ...]
    out: Path
    sampler: str = "tpe"
    trials: int = 100
    jobs: int = 1
    storage: str | None = None
    study: str = "qk-sweep"
    data: Path | None = None
    synthetic_trades: int = SYNTHETIC_TRADES
    data_seed: int = SYNTHETIC_SEED
    engine: str = "vectorized"
    objective: str = "sharpe"
    seed: int = 0

    @property
    def storage_url(self) -> str:
        """The storage URL actually used."""
        return self.storage or f"sqlite:///{(self.out / 'study.db').resolve()}"


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What a sweep left behind.

    Attributes:
        completed: Trials with a value.
        pruned: Trials refused or over budget.
        best_number: Best trial's number, None without a completed trial.
        best_value: Its objective value.
        best_params: Its parameters (text values).
        results_csv: Path of results.csv.
        best_json: Path of best_params.json (written only with a best trial).
        report: Path of sweep_report.html.
        run_id: The sweep's run id when tracked.
        best_run_id: The best trial's run id when tracked.
    """

    completed: int
    pruned: int
    best_number: int | None
    best_value: float | None
    best_params: dict[str, str]
    results_csv: Path
    best_json: Path
    report: Path
    run_id: str | None = None
    best_run_id: str | None = None


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its end-of-grid ``study.stop()``, which only works inside
    ``study.optimize``; the workers' ask/tell loop stops at the budget, capped at the grid size."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Nothing to do after a trial: the budget ends the sweep."""


def _sampler(kind: str, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    if kind == "grid":
        return _GridSampler(space.grid(), seed=seed)
    # constant_liar: parallel asks see each other's running trials and spread out.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _check(config: SweepConfig) -> SearchSpace:
    if config.sampler not in SAMPLERS:
        raise ResearchError(_R.BAD_SPACE, f"unknown sampler {config.sampler!r} (tpe, grid)")
    if config.trials < 1 or config.jobs < 1:
        raise ResearchError(_R.BAD_SPACE, "--trials and --jobs must be >= 1")
    check_objective(config.objective)
    return parse_space(config.params)


def _budget(config: SweepConfig, space: SearchSpace) -> int:
    return min(config.trials, space.grid_size()) if config.sampler == "grid" else config.trials


def run_worker(
    config: SweepConfig,
    worker: int,
    threads: int = 0,
    on_trial: Callable[[], None] | None = None,
    recorder: TrialRecorder | None = None,
) -> int:
    """One worker: join the study and evaluate trials until the budget is spent.

    Args:
        config: The sweep.
        worker: This worker's index on this host (its sampler seed derives from it and the
            study seed; workers on other hosts should pass distinct ``--seed`` values).
        threads: numba threads for the vectorised kernel (0: leave numba's default).
        on_trial: Called after each trial is told (progress).
        recorder: Records each completed trial as a run (tracked sweeps).

    Returns:
        Trials this worker evaluated.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = _check(config)
    budget = _budget(config, space)
    if threads > 0:
        import numba

        numba.set_num_threads(threads)
    deployment = load_descriptor(config.config)
    trades = load_trades(
        deployment, config.data, count=config.synthetic_trades, seed=config.data_seed
    )
    evaluator = Evaluator(deployment, trades, config.engine)
    study = optuna.load_study(
        study_name=config.study,
        storage=config.storage_url,
        # Optuna samplers take 32-bit seeds.
        sampler=_sampler(config.sampler, space, trial_seed(config.seed, -1 - worker) % 2**32),
    )
    batch = VECTOR_BATCH if config.engine == "vectorized" else 1
    done = 0
    while len(study.get_trials(deepcopy=False)) < budget:
        asked: list[tuple[optuna.Trial, dict[str, str], int]] = []
        for _ in range(batch):
            trial = study.ask()
            if trial.number >= budget:
                # Two workers can ask at once near the end of the budget: the one past it
                # gives the trial back as PRUNED.
                trial.set_user_attr(
                    "qk", {"refused": "over the study's trial budget", "worker": worker}
                )
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
            asked.append((trial, space.suggest(trial), trial_seed(config.seed, trial.number)))
        if not asked:
            break
        outcomes = evaluator.run([p for _, p, _ in asked], [s for _, _, s in asked])
        for (trial, params, seed), outcome in zip(asked, outcomes, strict=True):
            record = {"seed": seed, "worker": worker}
            _tell(study, trial, outcome, config.objective, record, recorder, params)
            done += 1
            if on_trial is not None:
                on_trial()
    return done


def _tell(
    study: optuna.Study,
    trial: optuna.Trial,
    outcome: Any,
    objective: str,
    record: dict[str, Any],
    recorder: TrialRecorder | None = None,
    params: Mapping[str, str] | None = None,
) -> None:
    # One user attribute per trial: every attribute is a storage round trip.
    value = None
    if isinstance(outcome, ResearchError):
        record["refused"] = str(outcome)
    else:
        record["metrics"] = outcome
        value = outcome.get(objective)
        if value is None:
            record["refused"] = f"{objective} is undefined for this parameter set"
    if recorder is not None and value is not None:
        # Recorded before the tell, so the trial's attribute can name its run.
        record["run"] = recorder.record(
            trial.number,
            params or {},
            record["seed"],
            outcome,
            {"objective": objective, "value": float(value), "worker": record["worker"],
             "study": study.study_name},
        )  # fmt: skip
    trial.set_user_attr("qk", record)
    if value is None:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, float(value))


def _config_json(config: SweepConfig) -> str:
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(SweepConfig)}
    for name in ("config", "out", "data"):
        values[name] = None if values[name] is None else str(values[name])
    values["params"] = list(config.params)
    values["storage"] = config.storage_url
    return json.dumps(values)


def _config_from_json(text: str) -> SweepConfig:
    values = json.loads(text)
    for name in ("config", "out", "data"):
        values[name] = None if values[name] is None else Path(values[name])
    values["params"] = tuple(values["params"])
    return SweepConfig(**values)


def run_sweep(
    config: SweepConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    tracking: Tracking | None = None,
) -> SweepSummary:
    """Run a sweep with ``config.jobs`` worker processes and write its outputs.

    Args:
        config: The sweep.
        progress: Show a progress bar.
        log: Gets a closing line (trials completed and pruned, time taken).
        tracking: Record the sweep and its completed trials in this run store; the sweep run
            ends ``failed`` (``interrupted`` on Ctrl-C) if the sweep does.

    Raises:
        ResearchError: Bad space, sampler, objective; a study of the same name created for
            another objective; no trial evaluated.
        StrategyError, BacktestError: Bad descriptor or data (checked before any worker
            starts).
    """
    space = _check(config)
    budget = _budget(config, space)
    config.out.mkdir(parents=True, exist_ok=True)
    deployment = load_descriptor(config.config)
    # Refuse a non-vectorisable deployment here, once, rather than in every worker.
    if config.engine == "vectorized":
        from qk.research.vectorized import vectorized_models

        vectorized_models(deployment)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=config.study,
        storage=config.storage_url,
        direction="maximize",
        load_if_exists=True,
    )
    previous = study.user_attrs.get("objective")
    if previous is not None and previous != config.objective:
        raise ResearchError(
            _R.BAD_OBJECTIVE,
            f"study {config.study!r} in {config.storage_url} maximises {previous!r}, not "
            f"{config.objective!r}: use another --study name",
        )
    study.set_user_attr("objective", config.objective)
    study.set_user_attr("space", list(config.params))
    study.set_user_attr("engine", config.engine)
    started = time.monotonic()
    if tracking is None:
        summary = _evaluate(config, study, space, budget, progress, None)
    else:
        trades = load_trades(
            deployment, config.data, count=config.synthetic_trades, seed=config.data_seed
        )
        fingerprint = fingerprint_array(trades)
        del trades  # the workers load their own; this process only needed the fingerprint
        store, run_id = start_sweep(
            tracking, _run_params(config, space), fingerprint, config.config, _run_info(config)
        )
        recorder = TrialRecorder(tracking, run_id, fingerprint, config.config)
        try:
            summary = _evaluate(config, study, space, budget, progress, recorder)
            finish_sweep(
                store, run_id, config.out, completed=summary.completed, pruned=summary.pruned,
                best_trial=summary.best_number, best_value=summary.best_value,
                best_params=summary.best_params, best_trial_run=summary.best_run_id,
            )  # fmt: skip
        except BaseException as exc:
            store.finish(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        summary = dataclasses.replace(summary, run_id=run_id)
    if log is not None:
        log(
            f"{summary.completed} trials completed, {summary.pruned} pruned in "
            f"{time.monotonic() - started:.1f} s"
        )
    return summary


def _evaluate(
    config: SweepConfig,
    study: optuna.Study,
    space: SearchSpace,
    budget: int,
    progress: bool,
    recorder: TrialRecorder | None,
) -> SweepSummary:
    if config.jobs == 1:
        from tqdm import tqdm

        with tqdm(total=budget, unit="trial", disable=not progress) as bar:

            def advance() -> None:
                bar.update(1)

            run_worker(config, 0, on_trial=advance, recorder=recorder)
    else:
        _run_processes(config, study, budget, progress, recorder)
    return write_outputs(study, space, config, budget)


def _run_params(config: SweepConfig, space: SearchSpace) -> dict[str, Any]:
    # What determines the sweep's results (jobs and storage only change where and how fast).
    specs = {name.strip(): spec for name, _, spec in (i.partition("=") for i in config.params)}
    data: dict[str, Any] = (
        {"file": str(config.data)}
        if config.data is not None
        else {"synthetic": config.synthetic_trades, "seed": config.data_seed}
    )
    return {
        "space": {name: specs[name].strip() for name in space.names},
        "sampler": config.sampler,
        "trials": config.trials,
        "objective": config.objective,
        "engine": config.engine,
        "seed": config.seed,
        "study": config.study,
        "data": data,
    }


def _run_info(config: SweepConfig) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    # run.json is shared and mirrored: a PostgreSQL URL's password must not reach it.
    storage = make_url(config.storage_url).render_as_string(hide_password=True)
    return {"jobs": config.jobs, "storage": storage, "out": str(config.out)}


def _run_processes(
    config: SweepConfig,
    study: optuna.Study,
    budget: int,
    progress: bool,
    recorder: TrialRecorder | None = None,
) -> None:
    from tqdm import tqdm

    cpus = os.cpu_count() or 1
    threads = max(1, cpus // config.jobs)
    # Fresh interpreters (not fork): no inherited DB connections or numba threads, and the
    # same command a worker on another host would run.
    payload = _config_json(config)
    tracked = [] if recorder is None else [recorder.to_json()]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "qk.research.sweep", payload, str(i), str(threads), *tracked],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(config.jobs)
    ]
    finished = {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    }
    try:
        with tqdm(total=budget, unit="trial", disable=not progress) as bar:
            while any(w.poll() is None for w in workers):
                count = sum(
                    1 for t in study.get_trials(deepcopy=False) if t.state in finished
                    and t.number < budget
                )  # fmt: skip
                bar.update(count - bar.n)
                time.sleep(_POLL_S)
            bar.update(budget - bar.n)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    errors = [(w.returncode, (w.stderr.read() if w.stderr else "").strip()) for w in workers]
    failed = [(code, text) for code, text in errors if code != 0]
    if failed:
        code, text = failed[0]
        last = text.splitlines()[-1] if text else "no message"
        raise ResearchError(
            _R.BAD_PARAMS,
            f"{len(failed)} worker process(es) failed; first (exit {code}): {last}",
        )


def _rows(study: optuna.Study, space: SearchSpace, budget: int) -> list[dict[str, Any]]:
    rows = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if trial.number >= budget or trial.state == optuna.trial.TrialState.RUNNING:
            continue
        params = {name: str(trial.params[name]) for name in space.names if name in trial.params}
        record = trial.user_attrs.get("qk", {})
        metrics = record.get("metrics", {})
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "params": params,
                "metrics": metrics,
                "seed": record.get("seed"),
                "refused": record.get("refused", ""),
                "run": record.get("run", ""),
            }
        )
    return rows


def _number(text: str) -> int | float | str:
    # The report plots numbers on axes; text values that are numbers go as numbers.
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def write_outputs(
    study: optuna.Study, space: SearchSpace, config: SweepConfig, budget: int
) -> SweepSummary:
    """results.csv (one row per trial), best_params.json and sweep_report.html."""
    rows = _rows(study, space, budget)
    results = config.out / "results.csv"
    with results.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["number", "state", "value", *space.names, *METRIC_NAMES, "seed", "refused", "run"]
        )
        for row in rows:
            writer.writerow(
                [row["number"], row["state"], "" if row["value"] is None else row["value"]]
                + [row["params"].get(n, "") for n in space.names]
                + ["" if row["metrics"].get(m) is None else row["metrics"][m] for m in METRIC_NAMES]
                + ["" if row["seed"] is None else row["seed"], row["refused"], row["run"]]
            )
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(complete, key=lambda r: (r["value"], -r["number"])) if complete else None
    best_json = config.out / "best_params.json"
    if best is not None:
        best_json.write_text(
            json.dumps(
                {
                    "study": config.study,
                    "objective": config.objective,
                    "engine": config.engine,
                    "trial": best["number"],
                    "value": best["value"],
                    "params": best["params"],
                    "metrics": best["metrics"],
                    "run": best["run"] or None,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    from qk.research.report import write_sweep_report

    report = config.out / "sweep_report.html"
    write_sweep_report(
        [
            {"number": r["number"], "params": {k: _number(v) for k, v in r["params"].items()},
             "metrics": r["metrics"], "state": r["state"]}
            for r in rows
        ],
        report,
        objective=config.objective,
    )  # fmt: skip
    return SweepSummary(
        completed=len(complete),
        pruned=sum(1 for r in rows if r["state"] == "PRUNED"),
        best_number=None if best is None else best["number"],
        best_value=None if best is None else best["value"],
        best_params={} if best is None else best["params"],
        results_csv=results,
        best_json=best_json,
        report=report,
        best_run_id=None if best is None else best["run"] or None,
    )


def _main(argv: list[str]) -> int:
    """``python -m qk.research.sweep CONFIG_JSON WORKER THREADS [RECORDER_JSON]``: one worker
    process (with the recorder: a tracked sweep's, recording its completed trials)."""
    if len(argv) not in (3, 4):
        print(
            "usage: python -m qk.research.sweep CONFIG_JSON WORKER THREADS [RECORDER_JSON]",
            file=sys.stderr,
        )
        return 2
    recorder = TrialRecorder.from_json(argv[3]) if len(argv) == 4 else None
    run_worker(_config_from_json(argv[0]), int(argv[1]), int(argv[2]), recorder=recorder)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
