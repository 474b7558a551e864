"""Acceptance trial of the learned policy (issue 19): `forma vla eval` as a trial — the model (the
shipped one, or --model FILE) on seeds never used in development (default 5000-5019, or --seeds),
the held-out phrasings (share/forma_vla/eval_instructions.yaml, or --instructions FILE in that
shape), the cups in all six colours so colour-cup pairs never seen in training come up; the task
expert and an untrained network of the same shape on the same episodes. Criteria (issue 19): pick
>= 80 % and >= 85 % of the expert's rate in the same run; wave and point >= 90 %; the untrained
network about 0; the robot never falls.

python -m tests.accept.run_accept vla --seeds 5000-5019 --model build/vla/model/policy.onnx
"""

from __future__ import annotations

from tests.accept.registry import OPTIONS, Figure, rate, seeds, trial

SEEDS = range(5000, 5020)
REQUIRED = {"pick": 0.80, "point": 0.90, "wave": 0.90}
SHARE_OF_EXPERT = 0.85


@trial("vla")
def vla_trial() -> dict:
    from forma_vla.evaluate import default_instructions, evaluate, load_instructions
    from forma_vla.torch_policy import shipped_model

    model = OPTIONS.get("model") or shipped_model()
    if model is None:
        return {"model": Figure("none shipped; pass --model FILE", "", "a model", False)}
    chosen = seeds(SEEDS)
    instructions = load_instructions(OPTIONS.get("instructions") or default_instructions())
    report = evaluate(model, chosen, instructions, log=lambda line: print(f"  {line}", flush=True))
    figures: dict[str, Figure] = {}
    for skill, row in report["skills"].items():
        mine, expert = row["policy"], row.get("expert")
        need = REQUIRED.get(skill, 0.9)
        ok = mine["success"] >= need * mine["runs"]
        criterion = f">= {need:.0%}"
        if skill == "pick" and expert:
            ok = ok and mine["success"] >= SHARE_OF_EXPERT * expert["success"]
            criterion += f" and >= {SHARE_OF_EXPERT:.0%} of the expert's"
        figures[f"vla_{skill}_success"] = rate(
            mine["success"], mine["runs"], criterion, ok,
            baseline=round(expert["success"] / max(1, expert["runs"]), 3) if expert else None,
            note="; ".join(mine["failures"][:5]),
        )
        if "unseen_pairs" in mine:
            u = mine["unseen_pairs"]
            figures[f"vla_{skill}_unseen_colour_pairs"] = rate(u["success"], u["runs"])
        if expert:
            figures[f"expert_{skill}_success"] = rate(expert["success"], expert["runs"])
        untrained = row.get("untrained")
        if untrained:
            figures[f"untrained_{skill}_success"] = rate(
                untrained["success"], untrained["runs"], "about 0",
                untrained["success"] <= 0.1 * untrained["runs"],
            )
    falls = report["fell"]
    figures["fell"] = Figure(sum(falls.values()), "runs", "0", not any(falls.values()),
                             note=", ".join(f"{who} {n}" for who, n in falls.items()))
    return figures
