"""Deterministic tokenizer test corpus: varied strings that stress pre-tokenizers and merges.

Categories: prose, contractions, numbers, code, whitespace runs, many scripts, emoji (ZWJ
sequences, flags, skin tones), combining marks, special-token text, random code points.
"""
import random

WORDS = ("the quick brown fox jumps over lazy dog market inference token provider client chain "
         "block miner escrow channel receipt model weights tensor quantize matrix vector "
         "hello world Agora peer network price budget reputation stake bond audit proof").split()
SCRIPTS = {
    "latin": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšžŁł",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΩ",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяЖЩЯ",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "japanese": "あいうえおかきくけこアイウエオカキクケコ日本語",
    "korean": "가나다라마바사아자차카타파하한국어",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
    "thai": "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
    "math": "∀∂∃∅∇∈∉∋∏∑−∗√∝∞∠∧∨∩∪∫∴∼≅≈≠≡≤≥⊂⊃⊆⊇⊕⊗",
    "symbols": "©®™°±µ¶·¼½¾×÷€£¥§¤",
}
EMOJI = ["😀", "🚀", "🤖", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "🏳️‍🌈", "🧑🏿‍💻", "✨", "🔥", "🙈", "1️⃣", "🐍"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "\u0301", "Z\u0351\u0352\u0353"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>", "<|im_start", "im_end|>", "<|", "|>"]
CODE = [
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    'let json = "{\\"key\\": [1, 2, 3]}"',
    "SELECT * FROM blocks WHERE height >= 100 ORDER BY height DESC;",
    "if err != nil {\n\treturn fmt.Errorf(\"failed: %w\", err)\n}",
    "<div class=\"row\">\n  <span>{{ value }}</span>\n</div>",
    "x = [i**2 for i in range(10) if i % 2 == 0]",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); }",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "    \t  indented\t\ttabs  ",
]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t", "\u00a0", "\u3000", "\u2009", "    \n\n    "]


def number(r):
    kind = r.randrange(6)
    if kind == 0:
        return str(r.randrange(10 ** r.randrange(1, 15)))
    if kind == 1:
        return f"{r.uniform(-1e6, 1e6):.{r.randrange(0, 6)}f}"
    if kind == 2:
        return f"{r.randrange(1, 10**9):,}"
    if kind == 3:
        return f"{r.randrange(1, 31)}/{r.randrange(1, 13)}/{r.randrange(1900, 2100)}"
    if kind == 4:
        return f"0x{r.randrange(16**8):x}"
    return f"{r.random():.3e}"


def random_codepoints(r, n):
    out = []
    while len(out) < n:
        plane = r.choice([(0x20, 0x7F), (0xA0, 0x2FFF), (0x3000, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x1FAFF)])
        cp = r.randrange(*plane)
        out.append(chr(cp))
    return "".join(out)


def piece(r):
    c = r.randrange(12)
    if c == 0:
        return " ".join(r.choice(WORDS) for _ in range(r.randrange(1, 12)))
    if c == 1:
        w = r.choice(WORDS)
        return r.choice([f"{w}'s", f"don't {w}", f"I'LL {w}", f"we've", f"they're", f"{w.upper()}'D", "'tis", "o'clock"])
    if c == 2:
        return number(r)
    if c == 3:
        return r.choice(CODE)
    if c == 4:
        return r.choice(WHITESPACE) * r.randrange(1, 4)
    if c == 5:
        alphabet = SCRIPTS[r.choice(sorted(SCRIPTS))]
        return "".join(r.choice(alphabet) for _ in range(r.randrange(1, 12)))
    if c == 6:
        return "".join(r.choice(EMOJI) for _ in range(r.randrange(1, 5)))
    if c == 7:
        return r.choice(COMBINING)
    if c == 8:
        return r.choice(SPECIAL)
    if c == 9:
        return random_codepoints(r, r.randrange(1, 8))
    if c == 10:
        return r.choice(WORDS).capitalize() + r.choice([".", ",", "!", "?", "...", ";", ":", " -", "—"])
    return "".join(r.choice("!@#$%^&*()_+-=[]{}|;:,.<>/?~`'\"\\") for _ in range(r.randrange(1, 6)))


def corpus(count=2400, seed=20261121):
    r = random.Random(seed)
    items = ["", " ", "a", "Hello world", "  leading", "trailing  ", "\n", "1234567890"]
    while len(items) < count:
        items.append("".join(piece(r) for _ in range(r.randrange(1, 6))))
    return items
