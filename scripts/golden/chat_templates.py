"""Renders the chat templates of common model families with Jinja2 as Hugging Face does
(trim_blocks, lstrip_blocks, raise_exception), for the golden test of our native renderers.

  python3 scripts/golden/chat_templates.py --smollm2 SMOLLM2.gguf
"""
import argparse, json, os
import jinja2

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "AgoraEngineTests", "Fixtures")

# Template texts as published with each model's tokenizer_config.json.
TEMPLATES = {
    "qwen2": ("<|endoftext|>", "<|im_end|>", "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    "chatml": ("<s>", "<|im_end|>", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    "llama2": ("<s>", "</s>", "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"),
    "llama3": ("<|begin_of_text|>", "<|eot_id|>", "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"),
    "mistral": ("<s>", "</s>", "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"),
    "phi3": ("<s>", "<|endoftext|>", "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"),
    "gemma": ("<bos>", "<eos>", "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"),
    "zephyr": ("<s>", "</s>", "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"),
}

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "  Hi  there \n"}, {"role": "assistant", "content": " Hello! "}, {"role": "user", "content": "Tell me a joke.\n"}],
    [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "An assistant."}, {"role": "user", "content": "Ünïcödé ✓ 🚀"}],
    [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
    [{"role": "assistant", "content": "I start."}],
]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def render(template, bos, eos, messages):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        return {"text": env.from_string(template).render(messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=True)}
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e)}


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--smollm2", required=True)
    args = a.parse_args()
    import gguf
    r = gguf.GGUFReader(args.smollm2)
    templates = dict(TEMPLATES)
    templates["smollm2"] = ("<|im_start|>", "<|im_end|>", r.fields["tokenizer.chat_template"].contents())
    cases = []
    for name, (bos, eos, template) in sorted(templates.items()):
        for messages in CONVERSATIONS:
            cases.append({"name": name, "template": template, "bos": bos, "eos": eos, "messages": messages, **render(template, bos, eos, messages)})
    json.dump({"cases": cases}, open(os.path.join(FIXTURES, "chat-templates.json"), "w"), ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
