"""Generate ``inventory.yaml`` (Anhui e-government WAN, 2006) from the tables below.

The YAML is the source of truth; this script only saved typing 1,000 device lines.
Run ``python docs/inventory_gen.py > inventory.yaml`` after changing the tables.
Coordinates are approximate seat positions (WGS-84); codes are the 2006 division codes.
"""

from __future__ import annotations

import sys

PROVINCE = ("anhui", "安徽省", "Anhui Sheng", "340000", 31.86, 117.28)

# city slug, name, pinyin, code, lat, lon, [(slug, name, pinyin, code, lat, lon), ...]
CITIES = [
    (
        "hefei",
        "合肥市",
        "Hefei",
        "340100",
        31.82,
        117.23,
        [
            ("yaohai", "瑶海区", "Yaohai", "340102", 31.86, 117.31),
            ("luyang", "庐阳区", "Luyang", "340103", 31.88, 117.26),
            ("shushan", "蜀山区", "Shushan", "340104", 31.85, 117.26),
            ("baohe", "包河区", "Baohe", "340111", 31.79, 117.31),
            ("changfeng", "长丰县", "Changfeng", "340121", 32.48, 117.17),
            ("feidong", "肥东县", "Feidong", "340122", 31.89, 117.47),
            ("feixi", "肥西县", "Feixi", "340123", 31.72, 117.16),
        ],
    ),
    (
        "wuhu",
        "芜湖市",
        "Wuhu",
        "340200",
        31.33,
        118.38,
        [
            ("jinghu", "镜湖区", "Jinghu", "340202", 31.34, 118.38),
            ("yijiang", "弋江区", "Yijiang", "340203", 31.31, 118.37),
            ("jiujiang", "鸠江区", "Jiujiang", "340207", 31.37, 118.39),
            ("sanshan", "三山区", "Sanshan", "340208", 31.21, 118.24),
            ("wuhuxian", "芜湖县", "Wuhu Xian", "340221", 31.15, 118.57),
            ("fanchang", "繁昌县", "Fanchang", "340222", 31.08, 118.20),
            ("nanling", "南陵县", "Nanling", "340223", 30.92, 118.33),
        ],
    ),
    (
        "bengbu",
        "蚌埠市",
        "Bengbu",
        "340300",
        32.92,
        117.39,
        [
            ("longzihu", "龙子湖区", "Longzihu", "340302", 32.94, 117.39),
            ("bengshan", "蚌山区", "Bengshan", "340303", 32.94, 117.37),
            ("yuhui", "禹会区", "Yuhui", "340304", 32.93, 117.35),
            ("huaishang", "淮上区", "Huaishang", "340311", 32.97, 117.36),
            ("huaiyuan", "怀远县", "Huaiyuan", "340321", 32.97, 117.20),
            ("wuhe", "五河县", "Wuhe", "340322", 33.13, 117.88),
            ("guzhen", "固镇县", "Guzhen", "340323", 33.32, 117.32),
        ],
    ),
    (
        "huainan",
        "淮南市",
        "Huainan",
        "340400",
        32.63,
        117.00,
        [
            ("datong", "大通区", "Datong", "340402", 32.63, 117.05),
            ("tianjiaan", "田家庵区", "Tianjia'an", "340403", 32.65, 117.00),
            ("xiejiaji", "谢家集区", "Xiejiaji", "340404", 32.60, 116.86),
            ("bagongshan", "八公山区", "Bagongshan", "340405", 32.63, 116.84),
            ("panji", "潘集区", "Panji", "340406", 32.77, 116.82),
            ("fengtai", "凤台县", "Fengtai", "340421", 32.71, 116.71),
        ],
    ),
    (
        "maanshan",
        "马鞍山市",
        "Ma'anshan",
        "340500",
        31.67,
        118.51,
        [
            ("jinjiazhuang", "金家庄区", "Jinjiazhuang", "340502", 31.73, 118.49),
            ("huashan", "花山区", "Huashan", "340503", 31.72, 118.51),
            ("yushan", "雨山区", "Yushan", "340504", 31.68, 118.50),
            ("dangtu", "当涂县", "Dangtu", "340521", 31.55, 118.49),
        ],
    ),
    (
        "huaibei",
        "淮北市",
        "Huaibei",
        "340600",
        33.96,
        116.80,
        [
            ("duji", "杜集区", "Duji", "340602", 34.00, 116.83),
            ("xiangshan", "相山区", "Xiangshan", "340603", 33.96, 116.79),
            ("lieshan", "烈山区", "Lieshan", "340604", 33.89, 116.81),
            ("suixi", "濉溪县", "Suixi", "340621", 33.92, 116.77),
        ],
    ),
    (
        "tongling",
        "铜陵市",
        "Tongling",
        "340700",
        30.94,
        117.81,
        [
            ("tongguanshan", "铜官山区", "Tongguanshan", "340702", 30.93, 117.82),
            ("shizishan", "狮子山区", "Shizishan", "340703", 30.93, 117.86),
            ("tljiaoqu", "郊区", "Jiaoqu", "340711", 30.91, 117.78),
            ("tonglingxian", "铜陵县", "Tongling Xian", "340721", 30.95, 117.78),
        ],
    ),
    (
        "anqing",
        "安庆市",
        "Anqing",
        "340800",
        30.53,
        117.05,
        [
            ("yingjiang", "迎江区", "Yingjiang", "340802", 30.51, 117.05),
            ("daguan", "大观区", "Daguan", "340803", 30.51, 117.03),
            ("yixiu", "宜秀区", "Yixiu", "340811", 30.54, 117.07),
            ("huaining", "怀宁县", "Huaining", "340822", 30.71, 116.83),
            ("zongyang", "枞阳县", "Zongyang", "340823", 30.70, 117.22),
            ("qianshan", "潜山县", "Qianshan", "340824", 30.63, 116.58),
            ("taihu", "太湖县", "Taihu", "340825", 30.45, 116.31),
            ("susong", "宿松县", "Susong", "340826", 30.15, 116.12),
            ("wangjiang", "望江县", "Wangjiang", "340827", 30.12, 116.69),
            ("yuexi", "岳西县", "Yuexi", "340828", 30.85, 116.36),
            ("tongcheng", "桐城市", "Tongcheng", "340881", 31.05, 116.97),
        ],
    ),
    (
        "huangshan",
        "黄山市",
        "Huangshan",
        "341000",
        29.71,
        118.34,
        [
            ("tunxi", "屯溪区", "Tunxi", "341002", 29.71, 118.32),
            ("huangshanqu", "黄山区", "Huangshan Qu", "341003", 30.27, 118.14),
            ("huizhou", "徽州区", "Huizhou", "341004", 29.83, 118.34),
            ("shexian", "歙县", "She Xian", "341021", 29.86, 118.43),
            ("xiuning", "休宁县", "Xiuning", "341022", 29.79, 118.19),
            ("yixian", "黟县", "Yi Xian", "341023", 29.92, 117.94),
            ("qimen", "祁门县", "Qimen", "341024", 29.85, 117.72),
        ],
    ),
    (
        "chuzhou",
        "滁州市",
        "Chuzhou",
        "341100",
        32.30,
        118.32,
        [
            ("langya", "琅琊区", "Langya", "341102", 32.30, 118.31),
            ("nanqiao", "南谯区", "Nanqiao", "341103", 32.20, 118.30),
            ("laian", "来安县", "Lai'an", "341122", 32.45, 118.44),
            ("quanjiao", "全椒县", "Quanjiao", "341124", 32.09, 118.27),
            ("dingyuan", "定远县", "Dingyuan", "341125", 32.53, 117.68),
            ("fengyang", "凤阳县", "Fengyang", "341126", 32.87, 117.56),
            ("tianchang", "天长市", "Tianchang", "341181", 32.69, 119.00),
            ("mingguang", "明光市", "Mingguang", "341182", 32.78, 118.02),
        ],
    ),
    (
        "fuyang",
        "阜阳市",
        "Fuyang",
        "341200",
        32.89,
        115.81,
        [
            ("yingzhou", "颍州区", "Yingzhou", "341202", 32.88, 115.81),
            ("yingdong", "颍东区", "Yingdong", "341203", 32.91, 115.86),
            ("yingquan", "颍泉区", "Yingquan", "341204", 32.92, 115.80),
            ("linquan", "临泉县", "Linquan", "341221", 33.06, 115.26),
            ("taihe", "太和县", "Taihe", "341222", 33.16, 115.62),
            ("funan", "阜南县", "Funan", "341225", 32.64, 115.59),
            ("yingshang", "颍上县", "Yingshang", "341226", 32.63, 116.26),
            ("jieshou", "界首市", "Jieshou", "341282", 33.26, 115.37),
        ],
    ),
    (
        "suzhou",
        "宿州市",
        "Suzhou",
        "341300",
        33.65,
        116.98,
        [
            ("yongqiao", "埇桥区", "Yongqiao", "341302", 33.64, 116.97),
            ("dangshan", "砀山县", "Dangshan", "341321", 34.43, 116.35),
            ("xiaoxian", "萧县", "Xiao Xian", "341322", 34.19, 116.94),
            ("lingbi", "灵璧县", "Lingbi", "341323", 33.54, 117.55),
            ("sixian", "泗县", "Si Xian", "341324", 33.48, 117.88),
        ],
    ),
    (
        "chaohu",
        "巢湖市",
        "Chaohu",
        "341400",
        31.60,
        117.87,
        [
            ("juchao", "居巢区", "Juchao", "341402", 31.60, 117.87),
            ("lujiang", "庐江县", "Lujiang", "341421", 31.26, 117.29),
            ("wuwei", "无为县", "Wuwei", "341422", 31.30, 117.90),
            ("hanshan", "含山县", "Hanshan", "341423", 31.73, 118.11),
            ("hexian", "和县", "He Xian", "341424", 31.72, 118.36),
        ],
    ),
    (
        "luan",
        "六安市",
        "Lu'an",
        "341500",
        31.76,
        116.52,
        [
            ("jinan", "金安区", "Jin'an", "341502", 31.75, 116.54),
            ("yuan", "裕安区", "Yu'an", "341503", 31.76, 116.48),
            ("shouxian", "寿县", "Shou Xian", "341521", 32.58, 116.79),
            ("huoqiu", "霍邱县", "Huoqiu", "341522", 32.35, 116.28),
            ("shucheng", "舒城县", "Shucheng", "341523", 31.46, 116.95),
            ("jinzhai", "金寨县", "Jinzhai", "341524", 31.68, 115.88),
            ("huoshan", "霍山县", "Huoshan", "341525", 31.39, 116.33),
        ],
    ),
    (
        "bozhou",
        "亳州市",
        "Bozhou",
        "341600",
        33.87,
        115.78,
        [
            ("qiaocheng", "谯城区", "Qiaocheng", "341602", 33.87, 115.78),
            ("guoyang", "涡阳县", "Guoyang", "341621", 33.51, 116.21),
            ("mengcheng", "蒙城县", "Mengcheng", "341622", 33.27, 116.56),
            ("lixin", "利辛县", "Lixin", "341623", 33.14, 116.21),
        ],
    ),
    (
        "chizhou",
        "池州市",
        "Chizhou",
        "341700",
        30.66,
        117.49,
        [
            ("guichi", "贵池区", "Guichi", "341702", 30.69, 117.47),
            ("dongzhi", "东至县", "Dongzhi", "341721", 30.10, 117.02),
            ("shitai", "石台县", "Shitai", "341722", 30.21, 117.48),
            ("qingyang", "青阳县", "Qingyang", "341723", 30.64, 117.85),
        ],
    ),
    (
        "xuancheng",
        "宣城市",
        "Xuancheng",
        "341800",
        30.95,
        118.76,
        [
            ("xuanzhou", "宣州区", "Xuanzhou", "341802", 30.95, 118.75),
            ("langxi", "郎溪县", "Langxi", "341821", 31.13, 119.18),
            ("guangde", "广德县", "Guangde", "341822", 30.89, 119.42),
            ("jingxian", "泾县", "Jing Xian", "341823", 30.69, 118.42),
            ("jixi", "绩溪县", "Jixi", "341824", 30.07, 118.58),
            ("jingde", "旌德县", "Jingde", "341825", 30.29, 118.54),
            ("ningguo", "宁国市", "Ningguo", "341881", 30.63, 118.98),
        ],
    ),
]

# slug, name, pinyin (departments sit in Hefei, near the provincial centre)
DEPARTMENTS = [
    ("bgt", "省政府办公厅", "Sheng Zhengfu Bangongting"),
    ("fgw", "省发展和改革委员会", "Fazhan he Gaige Weiyuanhui"),
    ("czt", "省财政厅", "Caizhengting"),
    ("gat", "省公安厅", "Gong'anting"),
    ("jyt", "省教育厅", "Jiaoyuting"),
    ("kjt", "省科学技术厅", "Kexue Jishuting"),
    ("mzt", "省民政厅", "Minzhengting"),
    ("sft", "省司法厅", "Sifating"),
    ("ldt", "省劳动和社会保障厅", "Laodong he Shehui Baozhangting"),
    ("gtt", "省国土资源厅", "Guotu Ziyuanting"),
    ("jst", "省建设厅", "Jianshiting"),
    ("jtt", "省交通厅", "Jiaotongting"),
    ("slt", "省水利厅", "Shuiliting"),
    ("nyt", "省农业厅", "Nongyeting"),
    ("swt", "省商务厅", "Shangwuting"),
    ("wst", "省卫生厅", "Weishengting"),
    ("sjt", "省审计厅", "Shenjiting"),
    ("dsj", "省地方税务局", "Difang Shuiwuju"),
    ("gsj", "省工商行政管理局", "Gongshang Xingzheng Guanliju"),
    ("tjj", "省统计局", "Tongjiju"),
]

ROUTER_BIG = [("huawei", "NE40E-X8")]
ROUTER_CITY = [("huawei", "NE40E-X3"), ("h3c", "MSR 56-60")]
ROUTER_SMALL = [("huawei", "AR2240"), ("h3c", "MSR 36-40"), ("huawei", "AR2220")]
FIREWALLS = [
    ("huawei", "USG6550"),
    ("hillstone", "SG-6000-E3960"),
    ("topsec", "NGFW4000-UF"),
    ("venustech", "USG-FW-2000"),
    ("sangfor", "NGAF-1000"),
]
SWITCH_CORE = [("huawei", "S12708")]
SWITCHES = [
    ("huawei", "S5720-28X-SI"),
    ("h3c", "S5560-30C-EI"),
    ("ruijie", "S6220-48XS6QXS-H"),
    ("zte", "ZXR10 5250"),
    ("huawei", "S5720-52X-EI"),
]
CIPHER = ("cipher", "SJJ1631-IPSec-GW")


class Builder:
    """Accumulates sites, devices and links as YAML lines."""

    def __init__(self) -> None:
        self.sites: list[str] = []
        self.devices: list[tuple[str, dict]] = []
        self.ifaces: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.agents: list[str] = []
        self.node = 0
        self.site_names: dict[str, str] = {}
        self.circuit = 0

    def site(self, sid, zh, py, code, kind, parent, lat, lon) -> int:
        n = self.node
        self.node += 1
        self.site_names[sid] = f"{zh} {py} ({code}) -- {kind}"
        if kind in ("province", "city"):
            self.sites.append(f"  # {zh} {py} ({code})" + (" and its counties" if kind == "city" else ""))
        elif kind == "department" and code.endswith("D01"):
            self.sites.append(
                "  # provincial departments (省直部门), on the gigabit metro ring from the centre"
            )
        par = parent if parent else "null"
        self.sites.append(
            f'  - {{id: {sid}, name_zh: {zh}, name_pinyin: "{py}", code: "{code}", kind: {kind}, '
            f"parent: {par}, lat: {lat:.2f}, lon: {lon:.2f},\n"
            f"     prefixes: {{internal: [10.34.{n}.0/24], external: [172.20.{n}.0/24]}}}}"
        )
        return n

    def device(self, name, site, role, vm, net, addr, cred, **extra) -> None:
        d = {
            "name": name,
            "site": site,
            "role": role,
            "vendor": vm[0],
            "model": vm[1],
            "network": net,
            "address": addr,
            "credential": cred,
            **extra,
        }
        self.devices.append((name, d))
        self.ifaces[name] = []

    def iface(self, dev: str, name: str) -> str:
        self.ifaces[dev].append(name)
        return name

    def link(self, lid, a, ai, b, bi, kind, cap, net, circuit=None) -> None:
        ai = self.iface(a, ai)
        bi = self.iface(b, bi)
        if circuit is None:
            circuit = "-"
        self.links.append(
            f'  - {{id: {lid}, a: "{a}:{ai}", b: "{b}:{bi}", kind: {kind}, capacity_bps: {cap}, '
            f'network: {net}, circuit_id: "{circuit}"}}'
        )

    def node_devices(self, pfx, sid, n, tier, i, pair=False) -> dict[str, list[str]]:
        """The seven boxes of a node (fourteen at the provincial centre) plus their local cabling."""
        rtr = (
            ROUTER_BIG[0]
            if tier == "province"
            else (ROUTER_CITY[i % 2] if tier == "city" else ROUTER_SMALL[i % 3])
        )
        sw = SWITCH_CORE[0] if tier == "province" else SWITCHES[i % len(SWITCHES)]
        fw = FIREWALLS[i % len(FIREWALLS)]
        out: dict[str, list[str]] = {}
        site = self.site_names[sid]
        self.devices.append((f"# {site}", {}))
        for k in (1, 2) if pair else (1,):
            h = 10 * (k - 1)
            names = {
                "int-rtr": f"{pfx}-int-rtr{k}",
                "int-fw": f"{pfx}-int-fw{k}",
                "int-cipher": f"{pfx}-int-cipher{k}",
                "int-sw": f"{pfx}-int-sw{k}",
                "ext-rtr": f"{pfx}-ext-rtr{k}",
                "ext-fw": f"{pfx}-ext-fw{k}",
                "ext-sw": f"{pfx}-ext-sw{k}",
            }
            self.device(names["int-rtr"], sid, "router", rtr, "internal", f"10.34.{n}.{1 + h}", "v2c-default")
            self.device(
                names["int-cipher"], sid, "cipher", CIPHER, "internal", f"10.34.{n}.{2 + h}", "v3-secure"
            )
            self.device(names["int-fw"], sid, "firewall", fw, "internal", f"10.34.{n}.{3 + h}", "v3-secure")
            self.device(names["int-sw"], sid, "switch", sw, "internal", f"10.34.{n}.{4 + h}", "v2c-default")
            self.device(
                names["ext-rtr"], sid, "router", rtr, "external", f"172.20.{n}.{1 + h}", "v2c-default"
            )
            self.device(names["ext-fw"], sid, "firewall", fw, "external", f"172.20.{n}.{3 + h}", "v3-secure")
            self.device(names["ext-sw"], sid, "switch", sw, "external", f"172.20.{n}.{4 + h}", "v2c-default")
            g = "GigabitEthernet0/0/{}"
            self.link(
                f"{pfx}-int-l{k}a",
                names["int-rtr"],
                g.format(9),
                names["int-cipher"],
                "eth1",
                "ethernet",
                1_000_000_000,
                "internal",
            )
            self.link(
                f"{pfx}-int-l{k}b",
                names["int-cipher"],
                "eth0",
                names["int-fw"],
                g.format(1),
                "ethernet",
                1_000_000_000,
                "internal",
            )
            self.link(
                f"{pfx}-int-l{k}c",
                names["int-fw"],
                g.format(2),
                names["int-sw"],
                g.format(1),
                "ethernet",
                1_000_000_000,
                "internal",
            )
            self.link(
                f"{pfx}-ext-l{k}a",
                names["ext-rtr"],
                g.format(9),
                names["ext-fw"],
                g.format(1),
                "ethernet",
                1_000_000_000,
                "external",
            )
            self.link(
                f"{pfx}-ext-l{k}b",
                names["ext-fw"],
                g.format(2),
                names["ext-sw"],
                g.format(1),
                "ethernet",
                1_000_000_000,
                "external",
            )
            for key, val in names.items():
                out.setdefault(key, []).append(val)
        return out

    def next_circuit(self, prefix: str) -> str:
        self.circuit += 1
        return f"{prefix}{self.circuit:05d}"


def build() -> str:
    b = Builder()
    pid, pzh, ppy, pcode, plat, plon = PROVINCE
    n = b.site(pid, pzh, ppy, pcode, "province", None, plat, plon)
    prov = b.node_devices("anhui", pid, n, "province", 0, pair=True)
    b.link(
        "anhui-int-ha",
        prov["int-rtr"][0],
        "GigabitEthernet3/0/0",
        prov["int-rtr"][1],
        "GigabitEthernet3/0/0",
        "ethernet",
        10_000_000_000,
        "internal",
    )
    b.link(
        "anhui-ext-ha",
        prov["ext-rtr"][0],
        "GigabitEthernet3/0/0",
        prov["ext-rtr"][1],
        "GigabitEthernet3/0/0",
        "ethernet",
        10_000_000_000,
        "external",
    )
    for k in (0, 1):
        b.devices[[d[0] for d in b.devices].index(prov["int-cipher"][k])][1]["tunnel_peers"] = []
    agents = [("province", [pid])]

    for ci, (cslug, czh, cpy, ccode, clat, clon, counties) in enumerate(CITIES):
        n = b.site(cslug, czh, cpy, ccode, "city", pid, clat, clon)
        city = b.node_devices(cslug, cslug, n, "city", ci)
        prtr = prov["int-rtr"][ci % 2]
        b.link(
            f"sdh-{cslug}",
            prtr,
            f"Pos1/0/{ci // 2}",
            city["int-rtr"][0],
            "Pos1/0/0",
            "sdh-stm1",
            155_520_000,
            "internal",
            circuit=f"AHDX-STM1-{ccode}-01",
        )
        b.link(
            f"ext-{cslug}",
            prov["ext-rtr"][ci % 2],
            f"GigabitEthernet2/0/{ci // 2}",
            city["ext-rtr"][0],
            "GigabitEthernet0/0/0",
            "ethernet",
            1_000_000_000,
            "external",
            circuit=f"AHDX-MAN-{ccode}-02",
        )
        _set(b, city["int-cipher"][0], tunnel_peers=prov["int-cipher"])
        covered = [cslug]
        for k, (slug, zh, py, code, lat, lon) in enumerate(counties):
            sid = f"{cslug}-{slug}"
            n = b.site(sid, zh, py, code, "county", cslug, lat, lon)
            cty = b.node_devices(slug, sid, n, "county", ci + k)
            cap = (10, 20, 50, 100)[k % 4] * 1_000_000
            b.link(
                f"mstp-{slug}",
                city["int-rtr"][0],
                f"GigabitEthernet1/0/{k}",
                cty["int-rtr"][0],
                "GigabitEthernet0/0/0",
                "mstp",
                cap,
                "internal",
                circuit=f"AHDX-MSTP-{code}-01",
            )
            b.link(
                f"ext-{slug}",
                city["ext-rtr"][0],
                f"GigabitEthernet1/0/{k}",
                cty["ext-rtr"][0],
                "GigabitEthernet0/0/0",
                "ethernet",
                100_000_000,
                "external",
                circuit=f"AHDX-MAN-{code}-02",
            )
            _set(b, cty["int-cipher"][0], tunnel_peers=city["int-cipher"])
            covered.append(sid)
        agents.append((cslug, covered))

    # Departments: a gigabit metro ring from province router 1 through every department to router 2.
    prev = (prov["int-rtr"][0], "GigabitEthernet4/0/0")
    for di, (slug, zh, py) in enumerate(DEPARTMENTS):
        sid = f"dept-{slug}"
        n = b.site(
            sid,
            zh,
            py,
            f"340000-D{di + 1:02d}",
            "department",
            pid,
            31.82 + (di % 5) * 0.012,
            117.20 + (di // 5) * 0.02,
        )
        dep = b.node_devices(sid, sid, n, "department", di)
        b.link(
            f"ring-{di + 1:02d}",
            prev[0],
            prev[1],
            dep["int-rtr"][0],
            "GigabitEthernet0/0/0",
            "fibre-ge",
            1_000_000_000,
            "internal",
            circuit=f"AHGOV-RING-{di + 1:02d}",
        )
        prev = (dep["int-rtr"][0], "GigabitEthernet0/0/1")
        b.link(
            f"ext-{sid}",
            prov["ext-rtr"][di % 2],
            f"GigabitEthernet4/0/{di // 2}",
            dep["ext-rtr"][0],
            "GigabitEthernet0/0/0",
            "ethernet",
            100_000_000,
            "external",
        )
        _set(b, dep["int-cipher"][0], tunnel_peers=prov["int-cipher"])
        agents[0][1].append(sid)
    b.link(
        f"ring-{len(DEPARTMENTS) + 1:02d}",
        prov["int-rtr"][1],
        "GigabitEthernet4/0/0",
        prev[0],
        prev[1],
        "fibre-ge",
        1_000_000_000,
        "internal",
        circuit=f"AHGOV-RING-{len(DEPARTMENTS) + 1:02d}",
    )

    out = [
        HEADER,
        "version: 1",
        "",
        "credentials:",
        "  - {name: v2c-default, version: v2c, community_env: NMS_SNMP_COMMUNITY}",
        "  - {name: v3-secure, version: v3, user: nmsmon, auth_proto: SHA256, "
        "auth_key_env: NMS_SNMP_V3_AUTH,",
        "     priv_proto: AES, priv_key_env: NMS_SNMP_V3_PRIV}",
        "",
        "ssh_credentials:",
        "  - {name: ssh-netops, username: netops, password_env: NMS_SSH_NETOPS_PASSWORD, default: true}",
        "",
        "sites:",
    ]
    out += b.sites
    out += ["", "devices:"]
    for name, d in b.devices:
        if name.startswith("#"):
            out.append(f"  {name}")
            continue
        d["interfaces"] = b.ifaces[name]
        out.append("  - {" + ", ".join(f"{k}: {_val(v)}" for k, v in d.items()) + "}")
    out += ["", "links:"]
    out += b.links
    out += ["", "agents:"]
    for name, sites in agents:
        out.append(
            f"  - {{name: {name}, token_env: NMS_AGENT_TOKEN_{name.upper()}, sites: [{', '.join(sites)}]}}"
        )
    return "\n".join(out) + "\n"


def _set(b: Builder, name: str, **kw) -> None:
    for dn, d in b.devices:
        if dn == name and d:
            d.update(kw)


def _val(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    s = str(v)
    return f'"{s}"' if " " in s or ":" in s else s


HEADER = """\
# inventory.yaml -- the Anhui provincial e-government WAN (2006) as data.
# Source of truth for the NMS; loaded by probes.common.inventory.load_inventory (docs/inventory.md).
# Generated once by docs/inventory_gen.py; edit by hand or regenerate.
#
# NEVER put secrets here: credentials name environment variables (*_env) whose values
# come from the environment or a mode-0600 secrets file (NMS_SECRETS_FILE).
# Addresses are the real network's management addresses; the NMS never contacts them
# from tests or demos (simulated devices answer on 127.34.x.y instead).
#
# Top-level keys:
#   version      1
#   credentials  SNMP credential references:
#                {name, version: v1|v2c|v3, community_env | user, auth_proto, auth_key_env,
#                 priv_proto, priv_key_env}
#   ssh_credentials  SSH logins for configuration backup (docs/configs.md):
#                {name, username, password_env | key_file, enable_env, default: true for the
#                 one used by every device without its own ssh_credential}
#   sites        {id, name_zh, name_pinyin, code (division code), kind: province|city|county|
#                 department, parent (site id, null for the province), lat, lon (WGS-84),
#                 prefixes: {internal: [CIDR...], external: [CIDR...]}}
#   devices      {name (ASCII, unique), site, role: router|firewall|cipher|switch|server,
#                 vendor, model, network: internal (专网)|external (外网), address
#                 (management, unique per network), credential, profile (default auto),
#                 interval_s (10..3600, default 60), port (default 161), interfaces: [names],
#                 tunnel_peers: [device names] (cipher machines), ssh_credential (name)}
#   links        {id, a: device:interface (end nearer the centre), b: device:interface,
#                 kind: sdh-stm1|fibre-ge|mstp|ethernet|ipsec, capacity_bps, network,
#                 circuit_id (carrier circuit, "-" if none)}
#   agents       {name, token_env, sites: [site ids whose devices this agent polls]}
"""


if __name__ == "__main__":
    sys.stdout.write(build())
