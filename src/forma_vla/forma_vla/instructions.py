"""What a policy is told of an instruction: its words, or — for a model whose signature says
`"instruction_form": "parsed"` — what forma_tasks' parser reads in them, said one canonical way.

Why: a sentence embedding of a phrasing the demonstrations never used can land far from theirs
(measured: a model trained on six wave paraphrases waved on "give me a wave" and not on "say
hello with your hand"). The parser already reads those phrasings (forma_tasks' acceptance runs
them); saying its reading one way means the policy meets at run time the sentences it learned on.
The words still go through the same MiniLM embedding, so an object never named in training
("the green cup") is still a sentence the network can place near those it knows.
"""

from __future__ import annotations

CANONICAL = {  # forma_tasks' skill -> how its instruction is said ({o}: "the <colour> <class>")
    "pick": "pick up {o}",
    "point": "point at {o}",
    "wave": "wave",
    "look": "look at {o}",
    "place": "put it down",
    "hand_over": "hand it to me",
}


def canonical(instruction) -> str:
    """A parsed forma_tasks Instruction said the canonical way ("pick up the green cup")."""
    template = CANONICAL.get(instruction.skill, instruction.skill.replace("_", " ") + " {o}")
    if instruction.object is not None:
        thing = instruction.object.describe()
    else:
        thing = "me" if instruction.person else "it"
    return template.format(o=thing).strip()


def policy_text(signature, text: str, parser) -> str:
    """The text a model with `signature` is given for `text`; forma_tasks.errors.TaskError (with the
    reason) if the model wants it parsed and the parser cannot read it."""
    if signature.instruction_form != "parsed":
        return text
    return canonical(parser.parse(text))
