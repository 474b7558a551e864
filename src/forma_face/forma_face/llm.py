"""Optional open chat through an external LLM with an OpenAI-compatible HTTP API (llama.cpp's
server, vLLM, Ollama, a hosted service). Off unless the interaction node's llm.url is set; used
only for utterances no intent matched. Standard library only (urllib).

The LLM may propose a task on a last line "TASK: pick up the red cup". Nothing it says moves the
robot: the proposal goes through the same understanding as what people say and is only ever asked
back ("Should I pick up the red cup?"); it runs when the person answers "yes"."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request

from forma_face.errors import FaceError

SYSTEM_PROMPT = (
    "You are Forma, a friendly humanoid robot. Answer in one or two short spoken sentences, "
    "plain text without lists or markup. If the person wants something you can do with your body "
    "(pick up, hand over, put down, look at or point at an object on the table, wave), add a last "
    "line 'TASK: ' and the instruction, for example 'TASK: pick up the red cup'."
)
TASK_LINE = re.compile(r"^\s*TASK\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
MAX_REPLY_CHARS = 400


class ChatBackend:
    """POST {url}/chat/completions with the last few turns; returns the assistant's text."""

    def __init__(
        self,
        url: str,
        model: str = "",
        timeout_s: float = 8.0,
        api_key_env: str = "FORMA_LLM_API_KEY",
        history_turns: int = 4,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise FaceError(f"llm.url {url!r} must start with http:// or https://")
        url = url.rstrip("/")
        self.endpoint = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.history: list[dict[str, str]] = []
        self.history_turns = history_turns

    def reply(self, utterance: str) -> str:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *self.history, {"role": "user", "content": utterance}]
        body = {"messages": messages, "max_tokens": 120, "temperature": 0.7}
        if self.model:
            body["model"] = self.model
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = json.loads(response.read())
            text = str(data["choices"][0]["message"]["content"]).strip()
        except urllib.error.HTTPError as exc:
            raise FaceError(f"LLM at {self.endpoint} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise FaceError(f"LLM at {self.endpoint} unreachable: {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise FaceError(f"LLM at {self.endpoint} sent no chat completion: {exc!r}") from exc
        if not text:
            raise FaceError(f"LLM at {self.endpoint} sent an empty reply")
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())[:MAX_REPLY_CHARS]
        self.history = [*self.history, {"role": "user", "content": utterance}, {"role": "assistant", "content": text}][
            -2 * self.history_turns :
        ]
        return text


def split_task(text: str) -> tuple[str, str | None]:
    """(what to say, the task the LLM proposes or None): the "TASK: …" line taken out."""
    match = TASK_LINE.search(text)
    speech = " ".join(TASK_LINE.sub(" ", text).split())
    return speech, (match.group(1) if match else None)


def speech_and_offer(text: str, dialogue) -> tuple[str, object | None]:
    """What the robot says for an LLM answer, and the Response asking back its proposed task (the
    proposal waits in `dialogue` for "yes"), or None when it proposes none it understands. Never
    a task to start."""
    speech, proposed = split_task(text)
    if proposed is None:
        return speech, None
    try:
        offer = dialogue.offer(proposed)
    except FaceError:
        return speech, None
    if offer is None:
        return speech, None
    return " ".join(x for x in (speech, offer.reply) if x), offer
