"""Structured output, tool calls and log-probabilities through the official openai package,
against `agora serve` or a bridge (the same checks: the bridge's answers come from a paid provider).

  python3 structured_output_check.py BASE_URL MODEL_ID

Every `json_schema` answer that ends by itself must parse and validate against its schema (nested
objects, arrays, enums, numbers, optional properties, a recursive $ref), greedy and sampled;
`json_object` gives an object; tool calls carry arguments that parse and validate against the
function's parameters (required, a named function, streamed, a second turn with the result);
an unsupported schema keyword is refused with a 400 naming it; `logprobs` / `top_logprobs` come
with every token, whole or streamed, chat or completion, and spell the answer. Exits non-zero on the first failed
check; the last line is the number of answers generated (for the bridge's audit count).
"""
import json, sys
import jsonschema, openai

base, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=300)
answers = 0


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def strict(properties, required=None):
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": False}


SCHEMAS = [
    ("person", "Describe a person who lives in a European capital.",
     strict({"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string", "enum": ["Paris", "London", "Rome"]}})),
    ("nested objects", "Describe a famous book and its author.",
     strict({"title": {"type": "string"}, "year": {"type": "integer"},
             "author": strict({"name": {"type": "string"}, "born": {"type": "integer"}})})),
    ("array of objects", "List three fruits and their prices in euros.",
     strict({"fruits": {"type": "array", "minItems": 1, "maxItems": 4,
                        "items": strict({"name": {"type": "string"}, "price": {"type": "number"}})}})),
    ("enums, numbers, booleans, null", "Review the film Inception.",
     strict({"rating": {"type": "number"}, "genre": {"type": "string", "enum": ["drama", "science fiction", "comedy"]},
             "recommended": {"type": "boolean"}, "sequel": {"type": ["string", "null"]}, "stars": {"enum": [1, 2, 3, 4, 5]}})),
    ("optional properties", "Give the capital of France, and its population if you know it.",
     strict({"country": {"type": "string"}, "capital": {"type": "string"}, "population": {"type": "integer"},
             "note": {"type": "string"}}, required=["capital"])),
    ("recursive $ref", "Describe a small family tree.",
     {"$defs": {"person": strict({"name": {"type": "string"},
                                  "children": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/person"}}})},
      "$ref": "#/$defs/person"}),
]


def ask(messages, **options):
    global answers
    answers += 1
    options.setdefault("max_tokens", 200)
    return client.chat.completions.create(model=model, messages=messages, **options)


def schema_format(name, schema):
    return {"type": "json_schema", "json_schema": {"name": name.replace(" ", "_").replace(",", "").replace("$", ""), "strict": True, "schema": schema}}


finished = 0
for name, prompt, schema in SCHEMAS:
    jsonschema.Draft202012Validator.check_schema(schema)
    for label, options in [("greedy", {"temperature": 0}), ("sampled", {"temperature": 1, "seed": 7})]:
        r = ask([{"role": "user", "content": prompt}], response_format=schema_format(name, schema), **options)
        text, finish = r.choices[0].message.content, r.choices[0].finish_reason
        if finish != "stop":
            # Cut by its token limit: a prefix of an answer the grammar allows, not a whole one.
            check(f"json_schema {name} ({label}) cut only by its limit", finish == "length", finish)
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            check(f"json_schema {name} ({label}) parses", False, f"{error}: {text!r}")
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
        check(f"json_schema {name} ({label}) matches its schema: {text}", not errors, errors[:1])
        finished += 1
# A model this small can loop inside a string until its limit; most answers still end.
check(f"json_schema: {finished} of {2 * len(SCHEMAS)} answers ended by themselves", finished >= len(SCHEMAS) + 2)

# The same answer streamed: the chunks put together are the whole answer's text.
name, prompt, schema = SCHEMAS[0]
whole = ask([{"role": "user", "content": prompt}], response_format=schema_format(name, schema), temperature=0, seed=1)
stream = ask([{"role": "user", "content": prompt}], response_format=schema_format(name, schema), temperature=0, seed=1, stream=True)
streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
check("json_schema streamed equals whole", streamed == whole.choices[0].message.content, f"{streamed!r} vs {whole.choices[0].message.content!r}")

r = ask([{"role": "user", "content": "Give three colours as JSON."}], response_format={"type": "json_object"}, temperature=0)
if r.choices[0].finish_reason == "stop":
    check(f"json_object gives an object: {r.choices[0].message.content}", isinstance(json.loads(r.choices[0].message.content), dict))

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": strict({"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}})}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The current time in a time zone",
    "parameters": strict({"zone": {"type": "string"}, "hours24": {"type": "boolean"}})}}
TOOLS = {"get_weather": WEATHER, "get_time": TIME}


def check_call(label, message):
    calls = message.tool_calls or []
    check(f"{label}: one tool call", len(calls) == 1 and message.content is None, message)
    call = calls[0]
    check(f"{label}: a call of an offered function", call.type == "function" and call.function.name in TOOLS and call.id, call)
    arguments = json.loads(call.function.arguments)
    errors = list(jsonschema.Draft202012Validator(TOOLS[call.function.name]["function"]["parameters"]).iter_errors(arguments))
    check(f"{label}: arguments match the function's schema: {call.function.arguments}", not errors, errors[:1])
    return call


weather = [{"role": "user", "content": "What is the weather in Paris right now?"}]
r = ask(weather, tools=[WEATHER, TIME], tool_choice="required", temperature=0)
check("tool_choice required ends in tool_calls", r.choices[0].finish_reason == "tool_calls", r.choices[0].finish_reason)
call = check_call("tool_choice required", r.choices[0].message)

r = ask(weather, tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}, temperature=0)
named = check_call("tool_choice names get_time", r.choices[0].message)
check("the named function is the one called", named.function.name == "get_time", named)

for seed in (1, 2, 3):
    r = ask(weather, tools=[WEATHER, TIME], temperature=1, seed=seed)
    m = r.choices[0].message
    if m.tool_calls:
        check_call(f"tool_choice auto (seed {seed}) called", m)
        check("a call ends in tool_calls", r.choices[0].finish_reason == "tool_calls")
    else:
        check(f"tool_choice auto (seed {seed}) answered in words", isinstance(m.content, str) and r.choices[0].finish_reason in ("stop", "length"), m)

stream = ask(weather, tools=[WEATHER], tool_choice="required", temperature=0, stream=True)
parts, finish = {}, None
for chunk in stream:
    if not chunk.choices:
        continue
    for delta in chunk.choices[0].delta.tool_calls or []:
        entry = parts.setdefault(delta.index, {"name": "", "arguments": "", "id": None})
        entry["id"] = entry["id"] or delta.id
        entry["name"] += delta.function.name or ""
        entry["arguments"] += delta.function.arguments or ""
    finish = chunk.choices[0].finish_reason or finish
check("streamed tool call ends in tool_calls", finish == "tool_calls", finish)
check("streamed tool call is get_weather", len(parts) == 1 and parts[0]["name"] == "get_weather" and parts[0]["id"], parts)
check("streamed arguments match the schema", not list(jsonschema.Draft202012Validator(WEATHER["function"]["parameters"]).iter_errors(json.loads(parts[0]["arguments"]))))

# The call's result sent back: the model answers in words.
followup = weather + [
    {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function",
                                                           "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})}]
r = ask(followup, tools=[WEATHER, TIME], tool_choice="none", temperature=0, max_tokens=40)
check("after the result, an answer in words", isinstance(r.choices[0].message.content, str) and r.choices[0].message.content
      and not r.choices[0].message.tool_calls, r.choices[0].message)

for keyword, schema in [("pattern", {"type": "string", "pattern": "^a"}), ("minimum", strict({"n": {"type": "integer", "minimum": 0}}))]:
    try:
        client.chat.completions.create(model=model, messages=weather, max_tokens=5, response_format=schema_format("x", schema))
        check(f"the keyword {keyword} is refused", False, "accepted")
    except openai.BadRequestError as error:
        check(f"the keyword {keyword} is refused by name", error.status_code == 400 and f"'{keyword}'" in str(error), error)

# Log-probabilities: one entry per token, the top alternatives asked for, the tokens spelling the text.
r = ask([{"role": "user", "content": "Name a colour."}], temperature=0, max_tokens=12, logprobs=True, top_logprobs=3)
content = r.choices[0].logprobs.content
check("chat logprobs: an entry per token", len(content) >= 1 and all(len(c.top_logprobs) == 3 and c.logprob <= 0 for c in content), content)
check("chat logprobs spell the answer", b"".join(bytes(c.bytes) for c in content).decode() == r.choices[0].message.content,
      f"{[c.token for c in content]} vs {r.choices[0].message.content!r}")
check("greedy takes the most likely token", all(c.token == c.top_logprobs[0].token for c in content))
stream = ask([{"role": "user", "content": "Name a colour."}], temperature=0, max_tokens=12, logprobs=True, top_logprobs=2, stream=True)
streamed, entries = "", []
for chunk in stream:
    if chunk.choices:
        streamed += chunk.choices[0].delta.content or ""
        entries += (chunk.choices[0].logprobs.content or []) if chunk.choices[0].logprobs else []
check("streamed chat logprobs spell the streamed answer", b"".join(bytes(c.bytes) for c in entries).decode() == streamed and streamed == r.choices[0].message.content,
      f"{[c.token for c in entries]} vs {streamed!r}")
c = client.completions.create(model=model, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=2)
answers += 1
lp = c.choices[0].logprobs
check("completion logprobs: tokens spell the text", "".join(lp.tokens) == c.choices[0].text, f"{lp.tokens} vs {c.choices[0].text!r}")
check("completion logprobs: parallel arrays, offsets from the start", len(lp.token_logprobs) == len(lp.tokens) == len(lp.top_logprobs) == len(lp.text_offset)
      and lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))], lp)

print(answers)
