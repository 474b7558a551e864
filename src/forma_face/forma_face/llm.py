"""Optional open chat through an external LLM with an OpenAI-compatible HTTP API (llama.cpp's
server, vLLM, Ollama, a hosted service). Off unless the interaction node's llm.url is set; used
only for utterances no intent matched. Standard library only (urllib)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from forma_face.errors import FaceError

SYSTEM_PROMPT = (
    "You are Forma, a friendly humanoid robot. Answer in one or two short spoken sentences, "
    "plain text without lists or markup."
)
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
        text = " ".join(text.split())[:MAX_REPLY_CHARS]
        self.history = [*self.history, {"role": "user", "content": utterance}, {"role": "assistant", "content": text}][
            -2 * self.history_turns :
        ]
        return text
