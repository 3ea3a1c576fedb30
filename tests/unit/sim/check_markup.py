#!/usr/bin/env python3
"""Checks that picture files parse: check_markup.py (svg|html) FILE...

svg:  well-formed XML (expat, through xml.etree) whose root is an <svg> element
      in the SVG namespace with a positive width and height.
html: parsed by html.parser with every non-void element closed in order, a
      <title> and a <body>; the page is also well-formed XML.
Prints one line naming the file and the problem and exits 1 on the first failure.
"""
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

SVG_NS = "{http://www.w3.org/2000/svg}"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Nesting(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.seen, self.error = [], set(), None

    def handle_starttag(self, tag, attrs):
        self.seen.add(tag)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.seen.add(tag)

    def handle_endtag(self, tag):
        if self.error:
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_tag = self.stack[-1][0] if self.stack else "nothing"
            self.error = f"line {self.getpos()[0]}: </{tag}> closes {open_tag}"
        else:
            self.stack.pop()


def check(kind, path):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return "empty file"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return f"not well-formed XML: {e}"
    if kind == "svg":
        if root.tag != SVG_NS + "svg":
            return f"root element is {root.tag}, not svg"
        for a in ("width", "height"):
            if float(root.get(a, "0")) <= 0:
                return f"svg {a} is missing or not positive"
        return None
    p = Nesting()
    p.feed(data.decode("utf-8"))
    p.close()
    if p.error:
        return p.error
    if p.stack:
        return f"<{p.stack[-1][0]}> opened at line {p.stack[-1][1][0]} is never closed"
    for tag in ("html", "title", "body"):
        if tag not in p.seen:
            return f"no <{tag}>"
    return None


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("svg", "html"):
        print("usage: check_markup.py (svg|html) FILE...", file=sys.stderr)
        return 2
    for path in sys.argv[2:]:
        try:
            problem = check(sys.argv[1], path)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            problem = str(e)
        if problem:
            print(f"{path}: {problem}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
