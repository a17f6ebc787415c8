"""Drives an Agora bridge with the official openai package: chat and completions, streamed and
not. Prints one JSON line with what each answer said it used (the bridge's own counts)."""
import json
import sys

from openai import OpenAI

base_url, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key="unused")
results = []

r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is 2 + 2?"}], max_tokens=24, temperature=0)
assert r.choices[0].message.content, r
assert r.choices[0].finish_reason in ("stop", "length")
results.append({"kind": "chat", "prompt": r.usage.prompt_tokens, "completion": r.usage.completion_tokens, "text": r.choices[0].message.content})

stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name three primary colors."}], max_tokens=32,
                                        temperature=0, stream=True, stream_options={"include_usage": True})
text, usage, finish = "", None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
assert text and usage and finish in ("stop", "length"), (text, usage, finish)
results.append({"kind": "chat-stream", "prompt": usage.prompt_tokens, "completion": usage.completion_tokens, "text": text})

r = client.completions.create(model=model, prompt="The sea is", max_tokens=16, temperature=0)
assert r.choices[0].text, r
results.append({"kind": "completion", "prompt": r.usage.prompt_tokens, "completion": r.usage.completion_tokens, "text": r.choices[0].text})

stream = client.completions.create(model=model, prompt="Once upon a time", max_tokens=16, temperature=0.7, seed=7, stream=True,
                                   stream_options={"include_usage": True})
text, usage = "", None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        text += choice.text or ""
assert text and usage, (text, usage)
results.append({"kind": "completion-stream", "prompt": usage.prompt_tokens, "completion": usage.completion_tokens, "text": text})

# Options the bridge does not implement are refused by name, never silently dropped.
import openai
for options, name in (({"functions": [{"name": "f", "parameters": {}}]}, "functions"), ({"function_call": "auto"}, "function_call")):
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, extra_body=options)
        raise AssertionError(f"{name} was accepted")
    except openai.BadRequestError as error:
        assert error.body and error.body.get("param") == name and error.body.get("code") == "unsupported_parameter", error.body

models = client.models.list()
assert [m.id for m in models.data] == [model], models
print(json.dumps(results))
