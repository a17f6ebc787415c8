"""Runs a batch through an Agora bridge's Batch API with the official openai package, unchanged:
files.create, batches.create, batches.retrieve until it ends, files.content of the output and
error files. Eight lines ask for answers the running provider takes; one asks for more tokens than
it takes a job for (only the stopped provider would), so its job expires. Prints one JSON line: the batch and both files."""
import json
import sys
import time

from openai import OpenAI

base_url, model, deadline_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = OpenAI(base_url=base_url, api_key="unused")

lines = []
for i in range(8):
    lines.append({"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions",
                  "body": {"model": model, "messages": [{"role": "user", "content": f"Count from {i} to {i + 3}."}], "max_tokens": 16}})
lines.append({"custom_id": "too-long", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": model, "messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 48}})
data = "\n".join(json.dumps(line) for line in lines).encode()

uploaded = client.files.create(file=("batch.jsonl", data), purpose="batch")
assert uploaded.purpose == "batch" and uploaded.bytes == len(data), uploaded
batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                              metadata={"test": "batch"})
assert batch.status == "in_progress", batch
listed = client.batches.list()
assert any(b.id == batch.id for b in listed.data), listed

start = time.time()
while batch.status not in ("completed", "failed", "cancelled", "expired") and time.time() - start < deadline_seconds:
    time.sleep(1)
    batch = client.batches.retrieve(batch.id)

output = client.files.content(batch.output_file_id).text if batch.output_file_id else ""
errors = client.files.content(batch.error_file_id).text if batch.error_file_id else ""

# A second batch, cancelled at once: it ends cancelled, every line settled (answered if a provider
# had locked it already, else cancelled and refunded).
second = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
cancelled = client.batches.cancel(second.id)
assert cancelled.status in ("cancelling", "cancelled"), cancelled
start = time.time()
while cancelled.status != "cancelled" and time.time() - start < deadline_seconds:
    time.sleep(1)
    cancelled = client.batches.retrieve(second.id)
cancelled_errors = client.files.content(cancelled.error_file_id).text if cancelled.error_file_id else ""

# A file that is not a batch: the batch fails at once, its errors naming the lines.
bad = client.files.create(file=("bad.jsonl", b'{"custom_id": "x"}\nnot json\n'), purpose="batch")
failed = client.batches.create(input_file_id=bad.id, endpoint="/v1/chat/completions", completion_window="24h")

print(json.dumps({"status": batch.status, "counts": batch.request_counts.model_dump() if batch.request_counts else None,
                  "metadata": batch.metadata, "output": [json.loads(l) for l in output.splitlines() if l],
                  "errors": [json.loads(l) for l in errors.splitlines() if l],
                  "cancelled": {"status": cancelled.status, "counts": cancelled.request_counts.model_dump(),
                                "errors": [json.loads(l)["error"]["code"] for l in cancelled_errors.splitlines() if l]},
                  "failed": {"status": failed.status, "errors": [(e.line, e.code) for e in failed.errors.data]}}))
