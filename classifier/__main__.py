"""python -m classifier train | evaluate | promote | rollback | list | bootstrap

Examples:
    python -m classifier train --source db          # new candidate from the case history
    python -m classifier list
    python -m classifier evaluate 20261122T101500Z-3fa2c1
    python -m classifier promote 20261122T101500Z-3fa2c1 --by zhouqian
    python -m classifier rollback --by zhouqian
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from tqdm import tqdm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifier", description="知库 classifier registry")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a candidate version")
    train.add_argument("--source", choices=["db", "demo"], default="db")
    train.add_argument("--by", default="cli")
    train.add_argument("--promote", action="store_true")
    ev = sub.add_parser("evaluate", help="metrics of a version, and a re-run on the newest 20%% of a source")
    ev.add_argument("version")
    ev.add_argument("--source", choices=["db", "demo"], default="db")
    pr = sub.add_parser("promote", help="make a version production")
    pr.add_argument("version")
    pr.add_argument("--by", default="cli")
    rb = sub.add_parser("rollback", help="return production to the previous version")
    rb.add_argument("--by", default="cli")
    sub.add_parser("list", help="list versions")
    sub.add_parser("bootstrap", help="train on data/demo and promote if nothing is in production")
    args = parser.parse_args(argv)

    from classifier import dataset
    from classifier.bootstrap import bootstrap, describe_first_model
    from classifier.registry import ModelRegistry
    from classifier.train import evaluate_head, fit
    from kb.db import make_session
    from kb.dictionary import install_segmenter_from_db
    from kb.settings import get_settings
    from kb.setup import prepare_database
    from kb.taxonomy import active_labels

    settings = get_settings()
    engine = prepare_database(settings)
    segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
    registry = ModelRegistry(settings.model_dir)
    demo = settings.data_dir / "demo" / "cases.jsonl"

    def load(source: str):
        if source == "demo":
            return dataset.from_demo(demo)
        with make_session(engine) as session:
            return dataset.from_db(session)

    if args.command in ("train", "bootstrap"):
        bar = tqdm(total=100, desc="训练", unit="%")

        def progress(frac: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(max(0, int(frac * 100) - bar.n))

        if args.command == "bootstrap":
            row = bootstrap(engine, registry, segmenter, demo, progress=progress, floors=settings.promotion_floors)
            bar.close()
            print(describe_first_model(row) if row else "a production model exists: nothing to do")
            return 0
        bundle = fit(load(args.source), segmenter=segmenter, trained_by=args.by, progress=progress,
                     source=args.source)
        bar.close()
        with make_session(engine, write=True) as session:
            row = registry.save(session, bundle)
            print(f"saved candidate {row.version}: {json.dumps(row.metrics, ensure_ascii=False)}")
            if args.promote:
                registry.promote(session, row.version, actor=args.by, now=datetime.now(UTC),
                                 active_labels=active_labels(session), text_version=segmenter.version,
                                 floors=settings.promotion_floors)
                print(f"promoted {row.version}")
        return 0
    with make_session(engine, write=True) as session:
        if args.command == "list":
            for row in registry.list_versions(session):
                print(f"{row.version}  {row.status:10s}  rows={row.data_rows:<6d} text={row.text_version}  "
                      f"{json.dumps(row.metrics, ensure_ascii=False)}")
        elif args.command == "promote":
            row = registry.promote(session, args.version, actor=args.by, now=datetime.now(UTC),
                                   active_labels=active_labels(session), text_version=segmenter.version,
                                   floors=settings.promotion_floors)
            print(f"promoted {row.version}")
        elif args.command == "rollback":
            row = registry.rollback(session, actor=args.by, now=datetime.now(UTC), active_labels=active_labels(session))
            print(f"production is now {row.version}")
        elif args.command == "evaluate":
            row = registry.get(session, args.version)
            bundle = registry.load(row.version, row.sha256, session)
            print(json.dumps(registry.metadata(row.version, session)["metrics"], ensure_ascii=False, indent=1)[:4000])
            _, test = dataset.time_split(load(args.source))
            proba = bundle.predict_proba([e.text for e in tqdm(test, desc="评估")])
            for head in ("type", "priority"):
                m = evaluate_head([getattr(e, head) for e in test], proba[head], bundle.labels[head])
                print(f"{head}: accuracy={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f} ece={m['ece']:.4f} "
                      f"coverage@90%={m['coverage_at_90']:.3f} on the newest {len(test)} of {args.source} "
                      f"(may overlap the version's training data)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # CLI: a clear message instead of a traceback for domain errors
        from kb.errors import DomainError

        if isinstance(exc, DomainError):
            print(f"error: {exc.message}", file=sys.stderr)
            sys.exit(2)
        raise
