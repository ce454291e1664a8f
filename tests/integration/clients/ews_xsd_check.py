#!/usr/bin/python3
"""ews_xsd_check.py EWS_XSD [-q] FILE...: a second opinion on EWS requests, independent of the
simulator's C code, for the tests that compare the two (t1100-sim-ews.sh).

python3-lxml checks each file the way Exchange checks a request before it runs the operation:
well-formed XML without a document type declaration; a SOAP envelope holding an optional Header,
then a Body with exactly one element; every header element in the EWS types namespace valid against
its declaration in types.xsd (other headers ignored unless soap:mustUnderstand); the body's element
in the messages namespace and valid against messages.xsd. EWS_XSD is the libxml2-loadable entry
point tools/m365sim/schema/libxml2/ews.xsd (tools/m365sim/schema/README.md). RequestServerVersion
values newer than the schema that Exchange Online accepts are checked as V2016_10_10.

Prints one JSON object per file (with -q: per invalid file): {"file", "valid", "problems"}. Exit 0
every file valid, 1 any invalid, 2 usage or a file that cannot be read.
"""
import json
import sys

from lxml import etree

SOAP_NS = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
TYPES_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
MESSAGES_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
NEWER_ONLINE = {"V2017_01_07", "V2017_04_14", "V2017_07_11", "V2017_10_09", "V2018_01_08"}


def problems_of(schema, data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    if root.getroottree().docinfo.doctype:
        return ["a document type declaration (Exchange refuses any DTD)"]
    q = etree.QName(root)
    if q.localname != "Envelope" or q.namespace not in SOAP_NS:
        return [f"root is {root.tag}, not a SOAP Envelope"]
    children = [c for c in root if isinstance(c.tag, str)]
    names = [etree.QName(c).localname for c in children]
    if names not in (["Body"], ["Header", "Body"]) or any(
        etree.QName(c).namespace != q.namespace for c in children
    ):
        return [f"envelope holds {names}, not an optional Header then a Body"]
    header, body = (children[0], children[1]) if len(children) == 2 else (None, children[0])
    ops = [c for c in body if isinstance(c.tag, str)]
    if len(ops) != 1 or (body.text or "").strip() or any((c.tail or "").strip() for c in body):
        return ["the Body must hold exactly one element"]
    found = []
    for h in header if header is not None else []:
        if not isinstance(h.tag, str):
            continue
        if etree.QName(h).namespace != TYPES_NS:
            if h.get(f"{{{q.namespace}}}mustUnderstand") in ("1", "true"):
                found.append(f"header {h.tag} has mustUnderstand but is not an EWS header")
            continue
        if etree.QName(h).localname == "RequestServerVersion" and h.get("Version") in NEWER_ONLINE:
            h = etree.fromstring(etree.tostring(h))
            h.set("Version", "V2016_10_10")
        if not schema.validate(h):
            found += [f"header line {e.line}: {e.message}" for e in schema.error_log]
    op = ops[0]
    if etree.QName(op).namespace != MESSAGES_NS:
        found.append(f"the operation {op.tag} is not in the messages namespace")
    elif not schema.validate(op):
        found += [f"body line {e.line}: {e.message}" for e in schema.error_log]
    return found


def main(argv):
    files = argv[2:]
    quiet = bool(files) and files[0] == "-q"
    files = files[1:] if quiet else files
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    schema = etree.XMLSchema(etree.parse(argv[1]))
    status = 0
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            print(f"ews_xsd_check.py: cannot read {path}: {exc.strerror}", file=sys.stderr)
            return 2
        found = problems_of(schema, data)
        status = max(status, 1 if found else 0)
        if found or not quiet:
            print(json.dumps({"file": path, "valid": not found, "problems": found}))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
