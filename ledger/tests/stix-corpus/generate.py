#!/usr/bin/env python3
"""Writes the STIX 2.1 corpus of ledger/tests/stix_corpus.rs: valid/*.json (documents of
the shapes an indicator feed uses, written from the STIX 2.1 spec's object definitions)
and invalid/*.json (each a valid document with one mutation), and expected.tsv: for each
invalid file the object and property dyad's refusal names, and whether the OASIS
stix2-validator refuses it too ("refuses") or dyad is stricter (the reason, documented
in spec/dyad.md 3.2). Also patterns.txt: the valid patterns and seeded random mutations
of them (tokens inserted, dropped, replaced), one per line, whose verdicts the test
compares with stix2-patterns': what dyad accepts, the reference must accept.

Run from anywhere: python3 ledger/tests/stix-corpus/generate.py (standard library only).
"""

import copy
import json
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent
T0 = "2026-03-01T08:00:00.000Z"
T1 = "2026-03-02T08:00:00.000Z"


def uid(n, version=4):
    """A deterministic RFC 4122 UUID string of `version`, numbered n."""
    return f"{n:08x}-7d1e-{version}c2a-9f3b-{n:012x}"


def sdo(ty, n, **props):
    o = {"type": ty, "spec_version": "2.1", "id": f"{ty}--{uid(n)}", "created": T0, "modified": T0}
    o.update(props)
    return o


def sco(ty, n, **props):
    o = {"type": ty, "spec_version": "2.1", "id": f"{ty}--{uid(n, 5)}"}
    o.update(props)
    return o


def bundle(n, objects):
    return {"type": "bundle", "id": f"bundle--{uid(n)}", "objects": objects}


IDENTITY = sdo("identity", 1, name="CSIRT Alpha", identity_class="organization")
ID_REF = IDENTITY["id"]
MALWARE = sdo("malware", 2, name="GRIDLOCK loader", is_family=True, malware_types=["remote-access-trojan"], created_by_ref=ID_REF)


def indicator(n, pattern, **props):
    return sdo("indicator", n, name=f"indicator {n}", indicator_types=["malicious-activity"], pattern=pattern,
               pattern_type="stix", valid_from=T0, created_by_ref=ID_REF, **props)


PATTERNS = [
    "[ipv4-addr:value = '198.51.100.23']",
    "[ipv6-addr:value = '2001:db8::1']",
    "[domain-name:value = 'bad.example']",
    "[url:value = 'http://bad.example/payload.bin']",
    "[email-addr:value = 'phish@bad.example']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' OR file:name = 'invoice.exe']",
    "[file:size > 1024 AND file:size < 2048.5]",
    "[network-traffic:dst_port IN (502, 503) AND network-traffic:protocols[0] = 'tcp']",
    "[email-message:from_ref.value MATCHES '^.+@bad\\\\.example$']",
    "[email-message:body_multipart[*].body_raw_ref.name LIKE '%.pdf']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv4-addr:value NOT ISSUPERSET '198.51.100.0/24']",
    "[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']",
    "[domain-name:value = 'a.example'] FOLLOWEDBY [url:value = 'http://a.example/x'] WITHIN 600 SECONDS",
    "([ipv4-addr:value = '203.0.113.1'] OR [ipv4-addr:value = '203.0.113.2']) REPEATS 5 TIMES",
    "[file:name = 'x.dll'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00.5Z'",
    "[artifact:payload_bin = b'ZXhhbXBsZQ==']",
    "[artifact:payload_bin = h'4d5a9000']",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Run' AND windows-registry-key:values[0].name = 'updater']",
    "[x509-certificate:issuer = 'CN=bad' AND x509-certificate:serial_number != '01']",
    "[process:name = 'svc.exe' AND process:pid >= 4]",
    "[user-account:is_privileged = true]",
    "[network-traffic:extensions.'http-request-ext'.request_method = 'POST']",
]

VALID = {
    "indicator-single-object": indicator(10, PATTERNS[0]),
    "empty-bundle": {"type": "bundle", "id": f"bundle--{uid(9)}"},
    "feed-indicators-malware-relationships": bundle(11, [IDENTITY, MALWARE] + [
        obj for i, p in enumerate(PATTERNS[:6]) for obj in (
            indicator(100 + i, p),
            sdo("relationship", 200 + i, relationship_type="indicates", source_ref=f"indicator--{uid(100 + i)}",
                target_ref=MALWARE["id"]),
        )
    ]),
    "indicator-valid-until": bundle(12, [indicator(13, PATTERNS[2], valid_until=T1)]),
    "indicator-other-pattern-type": bundle(14, [sdo("indicator", 15, pattern="alert tcp any any -> any 502 (msg:\"modbus\";)",
                                                    pattern_type="snort", valid_from=T0)]),
    "malware-instance": bundle(16, [sdo("malware", 17, is_family=False)]),
    "sighting": bundle(18, [IDENTITY, indicator(19, PATTERNS[1]),
                            sdo("sighting", 20, sighting_of_ref=f"indicator--{uid(19)}", count=3,
                                first_seen=T0, last_seen=T1, where_sighted_refs=[ID_REF])]),
    "named-sdos": bundle(21, [sdo(t, 22 + i, name=f"{t} example") for i, t in enumerate(
        ["attack-pattern", "campaign", "course-of-action", "intrusion-set", "threat-actor", "tool",
         "vulnerability", "infrastructure"])]),
    "report-note-opinion-grouping": bundle(40, [
        IDENTITY,
        sdo("report", 41, name="Weekly", published=T1, report_types=["threat-report"], object_refs=[ID_REF]),
        sdo("note", 42, content="Seen again.", object_refs=[ID_REF]),
        sdo("opinion", 43, opinion="agree", object_refs=[ID_REF]),
        sdo("grouping", 44, context="suspicious-activity", object_refs=[ID_REF]),
    ]),
    "location": bundle(45, [sdo("location", 46, country="BE"), sdo("location", 47, latitude=50.85, longitude=4.35)]),
    "observed-data-with-scos": bundle(48, [
        sco("ipv4-addr", 49, value="198.51.100.77"),
        sco("ipv6-addr", 50, value="2001:db8::77"),
        sco("domain-name", 51, value="bad.example"),
        sco("url", 52, value="http://bad.example/"),
        sco("email-addr", 53, value="phish@bad.example"),
        sco("file", 54, hashes={"SHA-256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}, name="x.exe"),
        sco("mutex", 55, name="Global\\gridlock"),
        sco("autonomous-system", 56, number=64511),
        sdo("observed-data", 57, first_observed=T0, last_observed=T1, number_observed=2,
            object_refs=[f"ipv4-addr--{uid(49, 5)}", f"domain-name--{uid(51, 5)}"]),
    ]),
    "marking-definition-tlp": bundle(58, [
        {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uid(59)}",
         "created": T0, "definition_type": "statement", "definition": {"statement": "Copyright CSIRT Alpha"}},
        indicator(60, PATTERNS[3], object_marking_refs=[f"marking-definition--{uid(59)}"]),
    ]),
    "custom-object-and-properties": bundle(61, [
        {"type": "x-acme-sensor", "spec_version": "2.1", "id": f"x-acme-sensor--{uid(62)}", "created": T0,
         "modified": T0, "x_acme_site": "plant 4"},
        indicator(63, PATTERNS[4], x_acme_confidence_band="high"),
    ]),
}
for i, p in enumerate(PATTERNS):
    VALID[f"pattern-{i:02}"] = bundle(300 + i, [indicator(400 + i, p)])


def mutate(name, base_key, index, edit, obj_id, prop, reference="refuses"):
    """An invalid document: VALID[base_key] with `edit` applied to object `index` (None: the
    top level), refused naming `obj_id` and `prop`."""
    doc = copy.deepcopy(VALID[base_key])
    target = doc if index is None else doc["objects"][index]
    edit(target)
    INVALID[name] = (doc, obj_id, prop, reference)


def drop(p):
    return lambda o: o.pop(p)


def put(p, v):
    return lambda o: o.__setitem__(p, v)


INVALID = {}
IND = "feed-indicators-malware-relationships"
IND_ID = f"indicator--{uid(100)}"
PATTERN_BASE = "pattern-00"
P_ID = f"indicator--{uid(400)}"
mutate("indicator-missing-pattern", IND, 2, drop("pattern"), IND_ID, "pattern")
mutate("indicator-missing-pattern-type", IND, 2, drop("pattern_type"), IND_ID, "pattern_type")
mutate("indicator-missing-valid-from", IND, 2, drop("valid_from"), IND_ID, "valid_from")
mutate("indicator-valid-until-before", "indicator-valid-until", 0, put("valid_until", "2026-02-01T00:00:00Z"),
       f"indicator--{uid(13)}", "valid_until")
V20 = "accepts: judges an object by the spec_version it declares; a dyad channel carries STIX 2.1"
mutate("indicator-spec-version-20", IND, 2, put("spec_version", "2.0"), IND_ID, "spec_version", V20)
mutate("indicator-missing-spec-version", IND, 2, drop("spec_version"), IND_ID, "spec_version")
mutate("indicator-missing-created", IND, 2, drop("created"), IND_ID, "created")
mutate("indicator-missing-modified", IND, 2, drop("modified"), IND_ID, "modified")
mutate("indicator-modified-before-created", IND, 2, put("modified", "2026-02-28T08:00:00.000Z"), IND_ID, "modified")
mutate("indicator-created-offset", IND, 2, put("created", "2026-03-01T08:00:00+00:00"), IND_ID, "created")
mutate("indicator-created-no-zone", IND, 2, put("created", "2026-03-01T08:00:00"), IND_ID, "created")
mutate("indicator-created-feb-30", IND, 2, put("created", "2026-02-30T08:00:00.000Z"), IND_ID, "created")
mutate("indicator-id-wrong-type", IND, 2, put("id", f"malware--{uid(100)}"), f"malware--{uid(100)}", "id")
mutate("indicator-id-not-uuid", IND, 2, put("id", "indicator--1234"), "indicator--1234", "id")
mutate("indicator-id-bad-variant", IND, 2, put("id", "indicator--00000064-7d1e-4c2a-7f3b-000000000064"),
       "indicator--00000064-7d1e-4c2a-7f3b-000000000064", "id")
mutate("indicator-pattern-not-a-pattern", PATTERN_BASE, 0, put("pattern", "this is not a pattern"), P_ID, "pattern")
mutate("indicator-pattern-no-brackets", PATTERN_BASE, 0, put("pattern", "ipv4-addr:value = '198.51.100.23'"), P_ID, "pattern")
mutate("indicator-pattern-unclosed", PATTERN_BASE, 0, put("pattern", "[ipv4-addr:value = '198.51.100.23'"), P_ID, "pattern")
mutate("indicator-pattern-lower-and", PATTERN_BASE, 0,
       put("pattern", "[ipv4-addr:value = '1.2.3.4'] and [ipv4-addr:value = '1.2.3.5']"), P_ID, "pattern")
mutate("indicator-pattern-unquoted", PATTERN_BASE, 0, put("pattern", "[ipv4-addr:value = 198.51.100.23]"), P_ID, "pattern")
mutate("indicator-pattern-bad-timestamp", PATTERN_BASE, 0,
       put("pattern", "[file:name = 'x'] START t'2026-13-01T00:00:00Z' STOP t'2026-14-01T00:00:00Z'"), P_ID, "pattern")
mutate("indicator-pattern-string-start", PATTERN_BASE, 0,
       put("pattern", "[file:name = 'x'] START '2026-01-01T00:00:00Z' STOP '2026-02-01T00:00:00Z'"), P_ID, "pattern")
mutate("indicator-pattern-odd-hex", PATTERN_BASE, 0, put("pattern", "[artifact:payload_bin = h'abc']"), P_ID, "pattern")
mutate("indicator-pattern-repeats-float", PATTERN_BASE, 0,
       put("pattern", "[file:name = 'x'] REPEATS 1.5 TIMES"), P_ID, "pattern")
mutate("indicator-pattern-deep", PATTERN_BASE, 0,
       put("pattern", "(" * 40 + "[file:name = 'x']" + ")" * 40), P_ID, "pattern",
       "accepts: dyad bounds pattern nesting at 32 levels")
mutate("malware-family-without-name", IND, 1, drop("name"), MALWARE["id"], "name")
mutate("malware-missing-is-family", IND, 1, drop("is_family"), MALWARE["id"], "is_family")
mutate("relationship-missing-target", IND, 3, drop("target_ref"), f"relationship--{uid(200)}", "target_ref")
mutate("relationship-bad-source", IND, 3, put("source_ref", "indicator-1"), f"relationship--{uid(200)}", "source_ref")
mutate("relationship-missing-type", IND, 3, drop("relationship_type"), f"relationship--{uid(200)}", "relationship_type")
mutate("sighting-missing-of-ref", "sighting", 2, drop("sighting_of_ref"), f"sighting--{uid(20)}", "sighting_of_ref")
mutate("identity-missing-name", IND, 0, drop("name"), ID_REF, "name")
mutate("created-by-ref-not-identity", IND, 2, put("created_by_ref", MALWARE["id"]), IND_ID, "created_by_ref",
       "accepts: does not check the type a reference names; STIX 2.1 3.2 says created_by_ref is an identity")
mutate("report-empty-object-refs", "report-note-opinion-grouping", 1, put("object_refs", []), f"report--{uid(41)}", "object_refs")
mutate("report-missing-published", "report-note-opinion-grouping", 1, drop("published"), f"report--{uid(41)}", "published")
mutate("opinion-unknown-value", "report-note-opinion-grouping", 3, put("opinion", "maybe"), f"opinion--{uid(43)}", "opinion")
mutate("location-latitude-only", "location", 1, drop("longitude"), f"location--{uid(47)}", "longitude")
mutate("ipv4-missing-value", "observed-data-with-scos", 0, drop("value"), f"ipv4-addr--{uid(49, 5)}", "value")
mutate("domain-name-value-number", "observed-data-with-scos", 2, put("value", 7), f"domain-name--{uid(51, 5)}", "value")
mutate("file-empty-hashes", "observed-data-with-scos", 5, put("hashes", {}), f"file--{uid(54, 5)}", "hashes")
mutate("sco-spec-version-20", "observed-data-with-scos", 3, put("spec_version", "2.0"), f"url--{uid(52, 5)}", "spec_version", V20)
mutate("observed-data-missing-number", "observed-data-with-scos", 8, drop("number_observed"),
       f"observed-data--{uid(57)}", "number_observed")
mutate("bundle-bad-id", IND, None, put("id", "bundle--nope"), "bundle--nope", "id")
mutate("custom-property-bad-name", "custom-object-and-properties", 1, put("x-acme-dash", 1),
       f"indicator--{uid(63)}", "x-acme-dash")


MUTATION_TOKENS = [
    "[", "]", "(", ")", " AND ", " OR ", " NOT ", " FOLLOWEDBY ", " = ", " != ", " < ", " <= ",
    " IN ", " LIKE ", " MATCHES ", "'", "\\", ".", ":", ",", "-", "1", "1.5", "-2",
    "t'2020-01-01T00:00:00Z'", "t'2020-02-30T00:00:00Z'", "h'aa'", "b'YQ=='", "b''", "true",
    " WITHIN 5 SECONDS", " REPEATS 2 TIMES", " START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
    "[*]", "[0]", "[-1]", "hashes", "hashes.MD5", " EXISTS ", "x-y", "_", "and", "'a'", " ", "/*c*/", "//", "LAST",
]


def mutated_patterns(count, seed):
    """`count` mutations of PATTERNS, reproducible from `seed`."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        p = rng.choice(PATTERNS)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(p))
            r = rng.random()
            if r < 0.4:
                p = p[:pos] + rng.choice(MUTATION_TOKENS) + p[pos:]
            elif r < 0.8:
                p = p[:pos] + p[pos + rng.randint(1, 4):]
            else:
                p = p[:pos] + rng.choice(MUTATION_TOKENS) + p[pos + rng.randint(1, 4):]
        out.append(p)
    return out


def main():
    for kind in ("valid", "invalid"):
        d = HERE / kind
        d.mkdir(exist_ok=True)
        for f in d.glob("*.json"):
            f.unlink()
    for name, doc in VALID.items():
        (HERE / "valid" / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# file\tobject\tproperty\tstix2-validator"]
    for name, (doc, obj, prop, reference) in sorted(INVALID.items()):
        (HERE / "invalid" / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        lines.append(f"{name}.json\t{obj}\t{prop}\t{reference}")
    (HERE / "expected.tsv").write_text("\n".join(lines) + "\n")
    patterns = PATTERNS + [p for p in mutated_patterns(2000, 2026) if "\n" not in p]
    (HERE / "patterns.txt").write_text("\n".join(patterns) + "\n")
    print(f"{len(VALID)} valid, {len(INVALID)} invalid")


if __name__ == "__main__":
    main()
