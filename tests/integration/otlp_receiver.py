"""A loopback OTLP/HTTP receiver (JSON encoding) that validates every request against the
OTLP JSON mapping and records what it got. Imported by otel_flow.py; run as a program
(`otlp_receiver.py PORT`) it serves until killed, answering 200 without parsing
(bench/otlp.sh: the receiver's CPU is not what is measured).

What it checks, from opentelemetry-proto (ExportTraceServiceRequest,
ExportLogsServiceRequest) and the OTLP specification's JSON rules: POST to /v1/traces or
/v1/logs with Content-Type application/json; lowerCamelCase field names and no unknown
field; traceId 32 and spanId/parentSpanId 16 lowercase hex digits, not all zero;
64-bit integers (timestamps, intValue) as decimal strings; enums (span kind, status code,
severity) as integers in range; every AnyValue with exactly one value field of the right
type; resourceSpans/scopeSpans/spans and resourceLogs/scopeLogs/logRecords nested as the
protobuf messages are. A request that breaks a rule is answered 400 and its problems
kept in .errors (a test asserts there are none)."""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
UINT = re.compile(r"^[0-9]+$")
INT = re.compile(r"^-?[0-9]+$")


class Invalid(Exception):
    pass


def need(cond, where, what):
    if not cond:
        raise Invalid("%s: %s" % (where, what))


def fields(obj, where, required, optional):
    need(isinstance(obj, dict), where, "expected an object, got %r" % (obj,))
    for k in required:
        need(k in obj, where, "missing required field %r" % k)
    for k in obj:
        need(k in required or k in optional, where, "unknown field %r" % k)


def nanos(v, where):
    # fixed64 in the protobuf JSON mapping: a decimal string (a number is also legal
    # JSON for protobuf, but the OTLP exporters and agentgov send strings: required here).
    need(isinstance(v, str) and UINT.match(v), where, "expected a decimal string, got %r" % (v,))
    need(int(v) < 2 ** 64, where, "out of range")
    return int(v)


def hexid(v, pat, where, allow_empty=False):
    if allow_empty and v == "":
        return
    need(isinstance(v, str) and pat.match(v), where, "expected lowercase hex id, got %r" % (v,))
    need(set(v) != {"0"}, where, "an all-zero id is invalid")


def any_value(v, where):
    kinds = ("stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
             "bytesValue")
    fields(v, where, (), kinds)
    need(len(v) == 1, where, "AnyValue must hold exactly one value, got %r" % (list(v),))
    k, x = next(iter(v.items()))
    if k == "stringValue":
        need(isinstance(x, str), where, "stringValue not a string")
    elif k == "boolValue":
        need(isinstance(x, bool), where, "boolValue not a boolean")
    elif k == "intValue":
        need(isinstance(x, str) and INT.match(x), where, "intValue not a decimal string: %r" % (x,))
        need(-2 ** 63 <= int(x) < 2 ** 63, where, "intValue out of int64 range")
    elif k == "doubleValue":
        need(isinstance(x, (int, float)) and not isinstance(x, bool), where, "doubleValue")
    elif k == "arrayValue":
        fields(x, where + ".arrayValue", (), ("values",))
        for i, e in enumerate(x.get("values", [])):
            any_value(e, "%s.arrayValue.values[%d]" % (where, i))
    elif k == "kvlistValue":
        fields(x, where + ".kvlistValue", (), ("values",))
        attributes(x.get("values", []), where + ".kvlistValue.values")
    else:
        need(isinstance(x, str), where, "bytesValue not a base64 string")
    return x


def attributes(lst, where):
    need(isinstance(lst, list), where, "attributes must be a list")
    seen = {}
    for i, kv in enumerate(lst):
        w = "%s[%d]" % (where, i)
        fields(kv, w, ("key", "value"), ())
        need(isinstance(kv["key"], str) and kv["key"], w, "key must be a non-empty string")
        need(kv["key"] not in seen, w, "duplicate key %r" % kv["key"])
        seen[kv["key"]] = any_value(kv["value"], w + ".value")
    return seen


def count(v, where):
    need(isinstance(v, int) and not isinstance(v, bool) and v >= 0, where, "expected uint32")


def resource(r, where):
    fields(r, where, ("attributes",), ("droppedAttributesCount",))
    return attributes(r["attributes"], where + ".attributes")


def scope(s, where):
    fields(s, where, ("name",), ("version", "attributes", "droppedAttributesCount"))
    need(isinstance(s["name"], str), where, "name must be a string")
    if "attributes" in s:
        attributes(s["attributes"], where + ".attributes")


def span(s, where):
    fields(s, where, ("traceId", "spanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano"),
           ("parentSpanId", "traceState", "flags", "attributes", "droppedAttributesCount",
            "events", "droppedEventsCount", "links", "droppedLinksCount", "status"))
    hexid(s["traceId"], HEX32, where + ".traceId")
    hexid(s["spanId"], HEX16, where + ".spanId")
    if "parentSpanId" in s:
        hexid(s["parentSpanId"], HEX16, where + ".parentSpanId", allow_empty=True)
    need(isinstance(s["name"], str) and s["name"], where, "name must be a non-empty string")
    need(isinstance(s["kind"], int) and 0 <= s["kind"] <= 5, where, "kind must be 0..5")
    t0 = nanos(s["startTimeUnixNano"], where + ".startTimeUnixNano")
    t1 = nanos(s["endTimeUnixNano"], where + ".endTimeUnixNano")
    need(t1 >= t0, where, "ends before it starts")
    attrs = attributes(s.get("attributes", []), where + ".attributes")
    if "status" in s:
        fields(s["status"], where + ".status", (), ("code", "message"))
        need(s["status"].get("code", 0) in (0, 1, 2), where, "status.code must be 0..2")
    return dict(s, attrs=attrs)


def log_record(r, where):
    fields(r, where, ("timeUnixNano",),
           ("observedTimeUnixNano", "severityNumber", "severityText", "body", "attributes",
            "droppedAttributesCount", "flags", "traceId", "spanId", "eventName"))
    nanos(r["timeUnixNano"], where + ".timeUnixNano")
    if "observedTimeUnixNano" in r:
        nanos(r["observedTimeUnixNano"], where + ".observedTimeUnixNano")
    if "severityNumber" in r:
        need(isinstance(r["severityNumber"], int) and 0 <= r["severityNumber"] <= 24, where,
             "severityNumber must be 0..24")
    if "body" in r:
        any_value(r["body"], where + ".body")
    if "traceId" in r:
        hexid(r["traceId"], HEX32, where + ".traceId", allow_empty=True)
    if "spanId" in r:
        hexid(r["spanId"], HEX16, where + ".spanId", allow_empty=True)
    attrs = attributes(r.get("attributes", []), where + ".attributes")
    return dict(r, attrs=attrs)


def validate_traces(doc):
    """Returns [(resource attrs, span with .attrs)]; raises Invalid."""
    fields(doc, "$", ("resourceSpans",), ())
    out = []
    for i, rs in enumerate(doc["resourceSpans"]):
        w = "$.resourceSpans[%d]" % i
        fields(rs, w, ("resource", "scopeSpans"), ("schemaUrl",))
        res = resource(rs["resource"], w + ".resource")
        for j, ss in enumerate(rs["scopeSpans"]):
            w2 = "%s.scopeSpans[%d]" % (w, j)
            fields(ss, w2, ("scope", "spans"), ("schemaUrl",))
            scope(ss["scope"], w2 + ".scope")
            for k, s in enumerate(ss["spans"]):
                out.append((res, span(s, "%s.spans[%d]" % (w2, k))))
    return out


def validate_logs(doc):
    fields(doc, "$", ("resourceLogs",), ())
    out = []
    for i, rl in enumerate(doc["resourceLogs"]):
        w = "$.resourceLogs[%d]" % i
        fields(rl, w, ("resource", "scopeLogs"), ("schemaUrl",))
        res = resource(rl["resource"], w + ".resource")
        for j, sl in enumerate(rl["scopeLogs"]):
            w2 = "%s.scopeLogs[%d]" % (w, j)
            fields(sl, w2, ("scope", "logRecords"), ("schemaUrl",))
            scope(sl["scope"], w2 + ".scope")
            for k, r in enumerate(sl["logRecords"]):
                out.append((res, log_record(r, "%s.logRecords[%d]" % (w2, k))))
    return out


class Receiver:
    """status: what to answer (200, or 503 to play a collector in trouble); delay: seconds
    to wait before answering (a stuck collector)."""

    def __init__(self, port=0, validate=True):
        self.status, self.delay, self.validate = 200, 0.0, validate
        self.spans, self.logs, self.errors, self.headers = [], [], [], []
        self.requests = {"traces": 0, "logs": 0}
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, code, body=b"{}"):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.delay:
                    time.sleep(outer.delay)
                sig = {"/v1/traces": "traces", "/v1/logs": "logs"}.get(self.path)
                with outer.lock:
                    if sig:
                        outer.requests[sig] += 1
                if outer.status != 200 or not outer.validate:
                    return self.answer(outer.status)
                try:
                    need(sig is not None, "path", "not an OTLP path: %s" % self.path)
                    need(self.headers.get("Content-Type", "").split(";")[0].strip()
                         == "application/json", "Content-Type", self.headers.get("Content-Type"))
                    doc = json.loads(raw)
                    got = validate_traces(doc) if sig == "traces" else validate_logs(doc)
                except (Invalid, ValueError) as e:
                    with outer.lock:
                        outer.errors.append(str(e))
                    return self.answer(400, json.dumps({"error": str(e)}).encode())
                with outer.lock:
                    (outer.spans if sig == "traces" else outer.logs).extend(got)
                    outer.headers.append(dict(self.headers))
                self.answer(200)

        self.srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


if __name__ == "__main__":
    rc = Receiver(int(sys.argv[1]), validate=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
