"""forma_face.understanding on its own (no encoder: the lexicon of the shipped intents file), then
the dialogue's safety of action on top of it (real MiniLM): ask-back and "yes"/"no", negations that
cancel only what they name, two-step requests, replies that say "you", and the LLM's proposals
only ever asked back (against the local OpenAI-compatible test server)."""

from __future__ import annotations

import pytest

from forma_face.dialogue import Dialogue, load_dialogue_config
from forma_face.interaction_node import default_intents_path
from forma_face.llm import ChatBackend, speech_and_offer, split_task
from forma_face.minilm import MiniLM
from forma_face.understanding import Lexicon, correct_word, edit_distance, find_slots, text_of, understand
from forma_face.understanding import clean as clean_tokens
from tests.chat_server import ChatServer


@pytest.fixture(scope="module")
def lexicon():
    config = load_dialogue_config(default_intents_path())
    return Lexicon.build(
        (e for i in config.intents for e in i.examples),
        (e for i in config.intents if i.task for e in i.examples),
        config.objects,
        config.colors,
        config.robot_names,
        english={"bowl", "cap", "lok", "blu"},  # stand-ins for the encoder's real words
    )


def clean(text: str, lexicon: Lexicon) -> str:
    return text_of(clean_tokens(text, lexicon)[0])


# --- the words ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("said", "cleaned"),
    [
        ("uh, so pick up the, um, the red cup", "so pick up the red cup"),
        ("Er, could you, uh, hand me the bottle", "could you hand me the bottle"),
        ("grab grab the ball", "grab the ball"),
        ("give me the, you know, blue box", "give me the blue box"),
        ("could you, like, wave", "could you wave"),
        ("I'd like the cup", "i'd like the cup"),  # "like" that means like stays
    ],
)
def test_disfluencies_are_taken_out(lexicon, said, cleaned):
    assert clean(said, lexicon) == cleaned


def test_edit_distance_counts_a_swap_of_neighbours_as_one():
    assert edit_distance("pikc", "pick") == 1
    assert edit_distance("bottel", "bottle") == 1
    assert edit_distance("gren", "green") == 1
    assert edit_distance("cup", "bottle", limit=2) == 3  # above the limit: limit + 1


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("pikc", "pick"), ("yelow", "yellow"), ("hnad", "hand"), ("gren", "green"), ("bootle", "bottle"), ("teh", "the")],
)
def test_misspellings_of_known_words_are_corrected(lexicon, typed, meant):
    assert correct_word(typed, lexicon) == meant


@pytest.mark.parametrize("word", ["bowl", "cap", "lok", "xy", "zzzzzz", "cup", "r2d2"])
def test_real_short_unknown_and_known_words_are_left_alone(lexicon, word):
    """bowl is one letter from ball and cap from cup: real words the encoder knows are never changed."""
    assert correct_word(word, lexicon) == word


def slots_of(text: str, lexicon: Lexicon):
    return find_slots(text.split(), lexicon)


def test_a_modal_is_never_the_object(lexicon):
    assert slots_of("can you grab the red can", lexicon) == ("can", "red")
    assert slots_of("can you pick up the cup", lexicon) == ("cup", None)
    assert slots_of("you can put the bottle down now", lexicon) == ("bottle", None)
    assert slots_of("can i have it", lexicon) == (None, None)
    assert slots_of("the can is empty", lexicon) == ("can", None)


# --- the structure --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("said", "negated_object"),
    [
        ("don't pick up the red cup", "cup"),
        ("please do not hand me the bottle", "bottle"),
        ("never point at the ball", "ball"),
        ("no need to grab the box", "box"),
        ("stop picking up the cup", "cup"),
        ("I don't want you to take the can", "can"),
        ("I don't want the cup", "cup"),
    ],
)
def test_negation_and_its_scope(lexicon, said, negated_object):
    u = understand(said, lexicon)
    assert u.negated is not None and u.negated.object == negated_object
    assert u.requests == ()


@pytest.mark.parametrize("said", ["never mind, stop", "stop moving", "not the red one, the blue one", "don't do that"])
def test_what_is_not_a_negated_action(lexicon, said):
    assert understand(said, lexicon).negated is None


@pytest.mark.parametrize(
    "said", ["leave the red cup alone", "don't touch the box", "hands off the ball", "the bottle stays where it is"]
)
def test_leave_alone(lexicon, said):
    u = understand(said, lexicon)
    assert u.leave_alone is not None and u.requests == ()


def test_put_it_down_by_leaving_it_is_not_leave_alone(lexicon):
    assert understand("leave it on the table", lexicon).leave_alone is None


@pytest.mark.parametrize(
    ("said", "obj", "color"),
    [
        ("pick up the red cup, no, the blue cup", "cup", "blue"),
        ("grab the ball, I mean the box", "box", None),
        ("hand me the cup, not the red one, the green one", "cup", "green"),
        ("point at the ball, actually make that the bottle", "bottle", None),
    ],
)
def test_corrections_replace_the_object_or_its_colour(lexicon, said, obj, color):
    u = understand(said, lexicon)
    assert u.correction and len(u.requests) == 1
    assert (u.requests[0].object, u.requests[0].color) == (obj, color)


def test_a_correction_alone_refers_to_what_came_before(lexicon):
    u = understand("not that one, the blue one", lexicon)
    assert u.context_only and (u.requests[0].object, u.requests[0].color) == (None, "blue")


def test_two_steps_in_order_with_it_resolved(lexicon):
    u = understand("take the green ball and then give it to me", lexicon)
    assert [(r.object, r.color) for r in u.requests] == [("ball", "green"), ("ball", "green")]
    assert "give it to me" in u.requests[1].text
    assert len(understand("give me the cup and the ball", lexicon).requests) == 1  # two objects, one step


@pytest.mark.parametrize(
    ("said", "kind", "obj"),
    [
        ("I'm so thirsty", "drink", None),
        ("I can't reach the box", "reach", "box"),
        ("I need the red bottle", "want", "bottle"),
        ("I wonder where the ball is", "where", "ball"),
    ],
)
def test_indirect_requests(lexicon, said, kind, obj):
    u = understand(said, lexicon)
    assert u.indirect is not None and (u.indirect.kind, u.indirect.object) == (kind, obj)


def test_nothing_indirect_in_a_direct_request(lexicon):
    assert understand("I need you to pick up the cup", lexicon).indirect is None


# --- the dialogue's safety of action --------------------------------------------------------------
@pytest.fixture(scope="module")
def dialogue():
    return Dialogue(load_dialogue_config(default_intents_path()), MiniLM())


@pytest.fixture
def fresh(dialogue):
    dialogue.reset()
    return dialogue


def test_an_unsure_request_is_asked_back_and_runs_on_yes(fresh):
    response = fresh.respond("I can't reach the red cup")
    assert response.tasks == () and response.instruction is None
    assert response.reply == "Should I hand the red cup to you?"
    assert [t.instruction for t in response.proposal] == ["hand the red cup to me"]
    yes = fresh.respond("yes please")
    assert yes.instructions == ("hand the red cup to me",)
    assert fresh.respond("yes").tasks == ()  # the proposal was used up


@pytest.mark.parametrize("answer", ["no", "nope", "no thanks"])
def test_no_drops_the_proposal(fresh, answer):
    fresh.respond("I'm thirsty")
    assert fresh.respond(answer).tasks == ()
    assert fresh.respond("yes").tasks == ()


def test_something_else_after_a_question_drops_it(fresh):
    fresh.respond("I'm thirsty")
    fresh.respond("hello")
    assert fresh.respond("yes").tasks == ()


def test_a_low_similarity_task_is_asked_back(fresh):
    """Below confirm_below (but above the threshold) the robot asks instead of moving."""
    fresh.config = dataclass_replace(fresh.config, confirm_below=0.999)
    try:
        response = fresh.respond("could you grab the red cup please")
        assert response.tasks == () and response.reply == "Should I pick up the red cup?"
        assert fresh.respond("sure").instructions == ("pick up the red cup",)
    finally:
        fresh.config = load_dialogue_config(default_intents_path())


def dataclass_replace(config, **changes):
    import dataclasses

    return dataclasses.replace(config, **changes)


def test_a_negated_request_never_starts_and_cancels_only_what_it_names(fresh):
    response = fresh.respond("don't pick up the green bottle")
    assert response.tasks == () and response.proposal == () and response.negated
    assert response.cancel and response.cancel_matching == "pick_up" and response.cancel_object == "bottle"
    assert response.reply == "Okay, I won't pick up the green bottle."
    stop = fresh.respond("stop")
    assert stop.cancel and stop.cancel_matching is None  # "stop" still cancels everything


def test_leave_alone_answers_and_starts_nothing(fresh):
    response = fresh.respond("leave the blue ball alone")
    assert response.tasks == () and response.negated and response.reply == "Okay, I'll leave the blue ball alone."


def test_a_two_step_request_is_two_tasks_in_order(fresh):
    response = fresh.respond("take the yellow box and give it to me")
    assert response.instructions == ("pick up the yellow box", "hand the yellow box to me")
    assert response.instruction == "pick up the yellow box"  # backwards compatible: the first
    assert response.reply == "Okay, I'll pick up the yellow box, then hand it to you."


def test_a_correction_replaces_the_running_task(fresh):
    fresh.respond("pick up the red cup")
    response = fresh.respond("no, not that one, the blue one")
    assert response.instructions == ("pick up the blue cup",)
    assert response.cancel and response.cancel_matching == "pick_up" and response.cancel_object == "cup"


def test_it_is_what_was_asked_before(fresh):
    """…but only asked back: "it" may not be what the person has in mind any more."""
    fresh.respond("pick up the red cup")
    response = fresh.respond("now give it to me")
    assert response.tasks == () and response.reply == "Should I hand the red cup to you?"


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("put it down", "Okay, I'll put it down."),
        ("hand me the blue box", "Sure, I'll hand the blue box to you."),
        ("look at me", "Let me look at you."),
    ],
)
def test_replies_say_you_to_the_person(fresh, said, reply):
    assert fresh.respond(said).reply == reply


def test_misspelled_and_disfluent_requests_act_on_what_was_meant(fresh):
    assert fresh.respond("uh, pikc up the, um, yelow ball").instructions == ("pick up the yellow ball",)
    assert fresh.respond("can you grab the can").instructions == ("pick up the can",)


# --- the LLM's proposals --------------------------------------------------------------------------
def test_split_task_takes_the_task_line_out():
    assert split_task("Sure thing.\nTASK: pick up the red cup") == ("Sure thing.", "pick up the red cup")
    assert split_task("Paris is the capital.") == ("Paris is the capital.", None)


@pytest.mark.parametrize(
    ("llm_says", "asked"),
    [
        ("I can help with that.\nTASK: pick up the green cup", "Should I pick up the green cup?"),
        ("Here you go.\ntask: hand me the blue bottle", "Should I hand the blue bottle to you?"),
    ],
)
def test_a_task_the_llm_proposes_is_only_asked_back(fresh, llm_says, asked):
    with ChatServer(reply=llm_says) as server:
        text = ChatBackend(server.url).reply("I would love a hot tea and biscuits")
    speech, offer = speech_and_offer(text, fresh)
    assert offer is not None and offer.tasks == () and offer.instruction is None
    assert speech.endswith(asked) and "TASK" not in speech.upper()
    assert len(fresh.respond("yes").tasks) == 1  # only the person's "yes" starts it


@pytest.mark.parametrize("task", ["don't pick up the red cup", "fly to the moon", "leave the box alone"])
def test_a_negated_or_unknown_llm_task_is_not_even_offered(fresh, task):
    speech, offer = speech_and_offer(f"Okay.\nTASK: {task}", fresh)
    assert offer is None and speech == "Okay."
    assert fresh.respond("yes").tasks == ()
