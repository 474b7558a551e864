"""Between what a person said and the intent: the words cleaned and read for their structure, so
ordinary speech never turns into the wrong action. Pure (no ROS), offline, a fraction of a
millisecond per utterance.

- disfluencies out: uh, um, er, "you know", a lone ", like,", repeated words ("the the");
- misspellings fixed against the robot's own words (objects, colours, perception's labels, the
  verbs and words of the intents' examples) by edit distance, conservatively: a word the encoder's
  vocabulary knows as a real word ("bowl", "cap") is never changed, only one fix per word at
  distance 1 (2 for long words), and not when two known words are equally close;
- words tagged by role: a modal ("can you", "could I", "you can") is never the object "can";
- negation and its scope: "don't", "do not", "never", "no need to", "shouldn't", "stop …-ing"
  before an action: what is negated is kept (to answer "I won't …" and cancel it), never asked for;
- leaving alone: "leave the cup alone", "don't touch …", "hands off …", "… stays where it is";
- corrections and contrasts: "the red cup, no, the blue cup", "not that one, the green one",
  "actually make that the box": the last words replace the object or colour (or the request);
- steps: "take the cup and give it to me" is two requests in order, "it" being the cup;
- indirect requests: "I'm thirsty", "I can't reach the box", "I need the bottle", "I wonder where
  the ball is": what the robot could offer, to be asked back, never done unasked.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping

FILLERS = frozenset({"uh", "uhh", "uhm", "um", "umm", "er", "erm", "hmm", "hm", "mm", "ah", "eh"})
SLANG = {  # written speech and typed shorthand -> the words
    "plz": "please", "pls": "please", "u": "you", "ur": "your", "gimme": "give me", "lemme": "let me",
    "dont": "don't", "didnt": "didn't", "shouldnt": "shouldn't", "doesnt": "doesn't", "cant": "can't",
    "wont": "won't", "im": "i'm", "thx": "thanks", "wanna": "want to",
}  # fmt: skip
MODALS = frozenset({"can", "could", "will", "would", "may", "might", "shall", "should"})
SUBJECTS = frozenset({"you", "i", "we", "they", "he", "she"})
DETERMINERS = frozenset({"the", "a", "an", "that", "this", "those", "these", "my", "your", "some"})
NOT_VERBS = (
    {"please"} | MODALS | SUBJECTS | DETERMINERS | {"do", "does", "did", "is", "are", "am", "be", "have", "has", "like"}
)
COMMON_VERBS = frozenset(  # actions people ask of a robot at a table, besides the intents' own
    {"touch", "move", "hold", "carry", "fetch", "pass", "hand", "give", "bring", "grab", "take", "pick", "lift",
     "get", "put", "place", "set", "drop", "release", "point", "look", "wave", "find", "show", "throw", "push"}
)  # fmt: skip
REFERRING = frozenset({"it", "that", "this", "one", "them"})
# words the patterns below are written with: spelling may correct towards them
PATTERN_WORDS = frozenset(
    {"alone", "leave", "hands", "off", "keep", "away", "stays", "stay", "remain", "where", "thirsty", "parched",
     "drink", "dry", "throat", "mouth", "reach", "far", "need", "want", "wish", "nice", "wonder", "sorry", "actually",
     "mean", "make", "rather", "wait", "then", "first", "after", "and", "not", "never", "no", "don't", "the", "a",
     "an", "it", "me", "my", "you", "your", "to", "of", "on", "in", "at", "up", "down", "over", "for", "with",
     "from", "please", "one", "that", "this", "know", "like"}
)  # fmt: skip

LEAVE_ALONE = re.compile(
    r"\b(leave|let) (it|them|(the|that|this|those|these|my) [a-z' ]+?) (alone|be|where (it|they) (is|are)"
    r"|as (it|they) (is|are)|there)\b"
    r"|\bleave (the|that|this|those|these|my)\b"
    r"|\b(don't|do not|never|dont) (ever )?(touch|move)\b"
    r"|\bhands off\b|\bkeep (your hands )?(off|away from)\b"
    r"|\b(stays?|remains?) (where (it|they) (is|are)|there|put|in place)\b"
)
NEGATION = re.compile(
    r"\b(don't|do not|does not|doesn't|never(?! mind)|no need to|not|shouldn't|should not|didn't|did not|"
    r"won't|will not|mustn't|must not|needn't|need not)\b"
)
CORRECTION_MARKERS = ("no wait", "no no", "no", "wait", "sorry", "oops", "i mean", "i meant", "actually",
                      "make that", "or rather", "rather")  # fmt: skip
DRINK = re.compile(
    r"\b(thirsty|parched|dehydrated|drink|(throat|mouth) is (so |very |really )?dry|dry (throat|mouth))\b"
)
REACH = re.compile(r"\b(can't|cannot|can not|couldn't|unable to) reach\b|\btoo far\b|\bout of (my )?reach\b")
WANT = re.compile(
    r"\bi (really |just )?(need|want)\b(?! (you|to)\b)|\bi wish i (had|could have)\b|\bnice to have\b"
    r"|\bi (would|'d) love\b|\bi could (really )?use\b"
)
WHERE = re.compile(r"\bi wonder where\b|\bwhere did (the|my|i put)\b|\bi can't find\b")


@dataclasses.dataclass(frozen=True)
class Lexicon:
    """The words the robot knows: objects (word -> class), colours, action verbs, and every word
    misspellings may be corrected towards; `english` are real words never corrected."""

    objects: Mapping[str, str]
    colors: frozenset[str]
    verbs: frozenset[str]
    words: frozenset[str]
    english: frozenset[str] = frozenset()
    by_length: Mapping[int, tuple[str, ...]] = dataclasses.field(default_factory=dict, compare=False)
    corrected: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)  # memo of correct_word

    @classmethod
    def build(
        cls,
        examples: Iterable[str],
        task_examples: Iterable[str],
        objects: Mapping[str, str],
        colors: Iterable[str],
        robot_names: Iterable[str] = (),
        english: Iterable[str] = (),
    ) -> Lexicon:
        colors = frozenset(colors)
        verbs = set(COMMON_VERBS)
        for example in task_examples:  # the first word that is not a modal, subject, "please": the verb
            for w in re.findall(r"[a-z']+", example.lower()):
                if w in objects or w in colors or w in {"which", "one", "where", "what", "okay", "so"}:
                    break
                if w not in NOT_VERBS:
                    verbs.add(w)
                    break
        words = set(PATTERN_WORDS) | verbs | set(objects) | colors | set(robot_names)
        words |= {w for s in SLANG.values() for w in s.split()}
        for example in examples:
            words.update(re.findall(r"[a-z']+", example.lower()))
        by_length: dict[int, list[str]] = {}
        for w in words:
            if len(w) >= 2:
                by_length.setdefault(len(w), []).append(w)
        by_length_sorted = {n: tuple(sorted(ws)) for n, ws in by_length.items()}
        return cls(dict(objects), colors, frozenset(verbs), frozenset(words), frozenset(english), by_length_sorted)


@dataclasses.dataclass(frozen=True)
class Request:
    """One thing asked: its words (to classify), and the object and colour it names, resolved."""

    text: str
    object: str | None = None  # the object's class ("cup" for "mug")
    color: str | None = None
    person: bool = False  # about the speaker ("look at me", "hand it to me")


@dataclasses.dataclass(frozen=True)
class Indirect:
    kind: str  # "drink" | "reach" | "want" | "where"
    object: str | None
    color: str | None


@dataclasses.dataclass(frozen=True)
class Understanding:
    cleaned: str  # disfluencies out, spelling fixed
    requests: tuple[Request, ...] = ()  # what is asked, in order (two-step requests: two)
    negated: Request | None = None  # what is asked NOT to be done ("don't pick up the cup")
    leave_alone: Request | None = None  # "leave the cup alone": its object
    correction: bool = False  # later words replaced an object, colour or request
    context_only: bool = False  # only a correction of what came before ("not that one, the blue one")
    indirect: Indirect | None = None
    fixes: tuple[tuple[str, str], ...] = ()  # (as written, corrected)


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (a swap of neighbours counts 1); limit + 1 once above limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def correct_word(word: str, lexicon: Lexicon) -> str:
    """The known word `word` is a misspelling of, or `word` itself when it is known, a real word,
    too short to tell, or equally close to two known words."""
    if len(word) < 3 or not word.isalpha() or word in lexicon.words or word in lexicon.english or word in FILLERS:
        return word
    if word in lexicon.corrected:
        return lexicon.corrected[word]
    limit = 2 if len(word) >= 7 else 1
    best, best_d = [], limit + 1
    lengths = range(len(word) - limit, len(word) + limit + 1)
    for known in (k for n in lengths for k in lexicon.by_length.get(n, ())):
        d = edit_distance(word, known, limit)
        if d < best_d:
            best, best_d = [known], d
        elif d == best_d and d <= limit:
            best.append(known)
    if len(best) > 1:  # a typo rarely hits the first letter: prefer the words that share it
        best = [w for w in best if w[0] == word[0]]
    if len(best) > 1:  # then those with most of its letters ("gren": green, not grey; "hnad": hand)
        shared = [sum((Counter(word) & Counter(w)).values()) for w in best]
        best = [w for w, n in zip(best, shared, strict=True) if n == max(shared)]
    if len(lexicon.corrected) < 10_000:
        lexicon.corrected[word] = best[0] if len(best) == 1 else word
    return best[0] if len(best) == 1 else word


def tokens_of(text: str) -> list[str]:
    """Lower-case words and "," for any pause (comma, dash, full stop, question mark), slang expanded."""
    text = re.sub(r"\s[-–—]+\s|[–—]|\.\.\.|…", " , ", text.lower().replace("’", "'"))
    out: list[str] = []
    for t in re.findall(r"[a-z0-9]+(?:'[a-z]+)?|[,;:.!?]", text):
        if t in ",;:.!?":
            if out and out[-1] != ",":
                out.append(",")
        else:
            out.extend(SLANG.get(t, t).split())
    while out and out[-1] == ",":
        out.pop()
    return out


def text_of(tokens: Iterable[str]) -> str:
    return " ".join(tokens).replace(" ,", ",")


def _without_disfluencies(tokens: list[str]) -> list[str]:
    kept: list[str] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        before = tokens[i - 1] if i > 0 else ","
        after = tokens[i + 1] if i + 1 < n else ","
        if t in FILLERS:
            i += 1
            continue
        if t == "you" and after == "know" and before == "," and (i + 2 == n or tokens[i + 2] == ","):
            i += 2
            continue
        if t == "like" and before == "," and after == ",":
            i += 1
            continue
        last = kept[-1] if kept else ","
        if t == "," and (last == "," or last in DETERMINERS or last in SUBJECTS or last in MODALS):
            i += 1  # "the, um, red cup": the pause around the filler goes with it
            continue
        kept.append(t)
        i += 1
    while kept and kept[0] in {",", "so", "well"} and (kept[0] == "," or len(kept) > 1 and kept[1] == ","):
        kept.pop(0)
    out: list[str] = []
    for t in kept:  # repeated words ("the the", "pick, pick"): one
        last_word = next((w for w in reversed(out) if w != ","), None)
        if t != "," and t == last_word and (out[-1] == t or out[-1] == ","):
            while out[-1] == ",":
                out.pop()
            continue
        if t == "," and out and out[-1] == ",":
            continue
        out.append(t)
    while out and out[-1] == ",":
        out.pop()
    return out


def clean(utterance: str, lexicon: Lexicon) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """The tokens with disfluencies out and misspellings fixed, and the fixes made."""
    tokens = [t for t in tokens_of(utterance)]
    fixes = []
    for i, t in enumerate(tokens):
        if t != ",":
            fixed = correct_word(t, lexicon)
            if fixed != t:
                fixes.append((t, fixed))
                tokens[i] = fixed
    return _without_disfluencies(tokens), tuple(fixes)


def is_modal(words: list[str], i: int, lexicon: Lexicon) -> bool:
    """Whether words[i] is a modal verb here ("can you", "you can put", "can't"), not an object."""
    w = words[i]
    if w not in MODALS and not w.startswith(("can'", "cannot")):
        return False
    nxt = words[i + 1] if i + 1 < len(words) else ""
    prev = words[i - 1] if i > 0 else ""
    if prev in DETERMINERS or prev in lexicon.colors:
        return False  # "the can", "the red can"
    return nxt in SUBJECTS or nxt in lexicon.verbs or nxt in {"not", "please", "you"} or prev in SUBJECTS


def find_slots(words: list[str], lexicon: Lexicon) -> tuple[str | None, str | None]:
    """(object class, colour) the words name first; a word before a subject pronoun ("can you",
    "can I") or a modal ("you can put") is not an object."""
    obj = color = None
    for i, w in enumerate(words):
        if color is None and w in lexicon.colors:
            color = w
        if obj is None:
            singular = w[:-1] if w.endswith("s") and len(w) > 3 else w
            if w not in lexicon.objects and singular not in lexicon.objects:
                continue
            if i + 1 < len(words) and words[i + 1] in SUBJECTS or is_modal(words, i, lexicon):
                continue
            obj = lexicon.objects.get(w, lexicon.objects.get(singular))
    return obj, color


def request_of(words: list[str], lexicon: Lexicon) -> Request:
    words = [w for w in words if w != ","]
    obj, color = find_slots(words, lexicon)
    return Request(" ".join(words), obj, color, obj is None and bool({"me", "myself"} & set(words)))


def _has_verb(words: Iterable[str], lexicon: Lexicon) -> bool:
    return any(w in lexicon.verbs for w in words)


def _stem(word: str, lexicon: Lexicon) -> str | None:
    """The verb of an -ing form the lexicon knows ("picking" -> "pick", "waving" -> "wave")."""
    if not word.endswith("ing") or len(word) < 5:
        return None
    for stem in (word[:-3], word[:-3] + "e", word[:-4]):
        if stem in lexicon.verbs:
            return stem
    return None


def _negated(words: list[str], lexicon: Lexicon) -> Request | None:
    """What the words ask not to be done, or None."""
    plain = [w for w in words if w != ","]
    for i, w in enumerate(plain[:-1]):  # "stop picking up the cup": the picking is negated (not "stop moving")
        if w in {"stop", "quit"} and (stem := _stem(plain[i + 1], lexicon)):
            rest = request_of([stem, *plain[i + 2 :]], lexicon)
            if rest.object is not None:
                return rest
    text = " ".join(plain)
    for m in NEGATION.finditer(text):
        after = text[m.end() :].split()
        if m.group(1) == "not" and (not after or after[0] in DETERMINERS):
            continue  # "not the red one": a contrast, not a negation
        for j, v in enumerate(after):
            nxt = after[j + 1] if j + 1 < len(after) else ""
            if v in {"want", "need", "like"} and nxt not in {"to", "you"} and j <= 1:
                obj, color = find_slots(after, lexicon)  # "I don't want the cup": a negated hand-over
                return Request("give me " + " ".join(after[j + 1 :]), obj, color) if obj else None
            if v in lexicon.verbs and nxt != "to":
                req = request_of(after[j:], lexicon)
                if req.object is None:  # "leave the bottle on the shelf, don't take it": it is the bottle
                    obj, color = find_slots(plain, lexicon)
                    req = dataclasses.replace(req, object=obj, color=req.color or color)
                return req
            if j >= 5:
                break
    return None


def _split_steps(tokens: list[str], lexicon: Lexicon) -> list[list[str]]:
    """ "take the cup and then give it to me" -> [take the cup], [give it to me]: at "and", "then",
    "after that", "but" when an action follows and one came before."""
    steps: list[list[str]] = [[]]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        j = i
        if t in {"and", "then", "but"} or (t == "after" and tokens[i + 1 : i + 2] == ["that"]):
            j = i + (2 if t == "after" else 1)
            while j < len(tokens) and tokens[j] in {"then", ",", "please", "also"}:
                j += 1
            following = tokens[j] if j < len(tokens) else ""
            if (following in lexicon.verbs or following in {"don't", "do", "never"}) and _has_verb(steps[-1], lexicon):
                while steps[-1] and steps[-1][-1] == ",":
                    steps[-1].pop()
                steps.append([])
                i = j
                continue
        steps[-1].append(t)
        i += 1
    if steps[0][:1] == ["first"]:  # "first take the cup, then …"
        steps[0] = steps[0][1:]
        while steps[0][:1] == [","]:
            steps[0].pop(0)
    return [s for s in steps if s]


def _segments(tokens: list[str]) -> tuple[list[list[str]], bool]:
    """The words split where the speaker corrects themselves ("…, no, the blue cup", "not that
    one, …", "I mean …"); contrasts ("not the red one") dropped. (segments, whether any)."""
    segments: list[list[str]] = [[]]
    corrected = False
    i = 0
    n = len(tokens)
    while i < n:
        at_pause = i == 0 or tokens[i - 1] == ","
        matched = None
        for marker in CORRECTION_MARKERS:
            words = marker.split()
            if tokens[i : i + len(words)] == words and (at_pause or marker in {"i mean", "i meant", "make that"}):
                matched = words
                break
        if matched and matched[0] == "no" and i + 1 < n and tokens[i + 1] not in {",", "the", "that", "wait", "no"}:
            matched = None  # "no need", "no problem": not a correction
        if matched:
            corrected = True
            segments.append([])
            i += len(matched)
            while (
                i < n
                and tokens[i] in {",", "make", "that"}
                and not (tokens[i] == "that" and i + 1 < n and tokens[i + 1] == "one")
            ):
                i += 1
            continue
        if tokens[i] == "not" and i + 1 < n and tokens[i + 1] in DETERMINERS:
            corrected = True
            while i < n and tokens[i] != ",":
                i += 1  # the contrasted object goes
            segments.append([])
            continue
        if tokens[i] != "," or segments[-1]:
            segments[-1].append(tokens[i])
        i += 1
    return [[w for w in s if w != ","] for s in segments], corrected


def _resolve_corrections(tokens: list[str], lexicon: Lexicon) -> tuple[Request | None, bool, bool]:
    """(the request after its corrections or None, corrected, only a correction of what came before)."""
    segments, corrected = _segments(tokens)
    if not corrected:
        return request_of(tokens, lexicon), False, False
    base = segments[0] or None
    obj, color = find_slots(base, lexicon) if base else (None, None)
    changed = False
    for seg in segments[1:]:
        if not seg:
            continue
        seg_obj, seg_color = find_slots(seg, lexicon)
        if _has_verb(seg, lexicon):  # "no, look at the red box": a new request
            keeps = seg_obj is None and bool(REFERRING & set(seg))
            base, changed = seg, True
            obj, color = (obj, seg_color or color) if keeps else (seg_obj, seg_color)
        elif seg_obj or seg_color:  # "…, no, the blue one": the object or its colour replaced
            if seg_obj:
                obj, color = seg_obj, seg_color
            else:
                color = seg_color
            changed = True
    if not changed:  # "wait, stop", "sorry, what?": no correction after all
        return request_of([w for w in tokens if w != ","], lexicon), False, False
    if base is None:
        return Request("", obj, color), True, True
    request = request_of(base, lexicon)
    return dataclasses.replace(request, object=obj, color=color, person=request.person and obj is None), True, False


def _indirect(text: str, tokens: list[str], lexicon: Lexicon) -> Indirect | None:
    words = [w for w in tokens if w != ","]
    obj, color = find_slots(words, lexicon)
    if DRINK.search(text):
        return Indirect("drink", obj, color)
    for kind, pattern in (("reach", REACH), ("where", WHERE), ("want", WANT)):
        if pattern.search(text) and obj is not None:
            return Indirect(kind, obj, color)
    return None


def understand(utterance: str, lexicon: Lexicon) -> Understanding:
    """What the utterance asks, does not ask, or corrects (see the module's docstring)."""
    tokens, fixes = clean(utterance, lexicon)
    cleaned = text_of(tokens)
    words = [w for w in tokens if w != ","]
    # "would you mind picking up": would you pick up
    for i in range(len(words) - 1):
        if words[i] == "mind" and (stem := _stem(words[i + 1], lexicon)):
            tokens = [w for w in tokens if w != "mind"]
            tokens[tokens.index(words[i + 1])] = stem
            break
    if LEAVE_ALONE.search(cleaned):
        obj, color = find_slots(words, lexicon)
        return Understanding(cleaned, leave_alone=Request(cleaned, obj, color), fixes=fixes)
    steps = _split_steps(tokens, lexicon)
    negated = None
    requests: list[Request] = []
    correction = context_only = False
    for step in steps:
        if (no := _negated(step, lexicon)) is not None:
            negated = negated or no
            continue
        request, corrected, only = _resolve_corrections(step, lexicon)
        correction |= corrected
        context_only |= only
        if request is None:
            continue
        if requests and request.object is None and bool(REFERRING & set(request.text.split())):
            request = dataclasses.replace(request, object=requests[-1].object, color=requests[-1].color)
        requests.append(request)
    indirect = None
    if negated is None and not _has_verb(words, lexicon) or negated is None and DRINK.search(cleaned):
        indirect = _indirect(cleaned, tokens, lexicon)
    return Understanding(cleaned, tuple(requests), negated, None, correction, context_only, indirect, fixes)
