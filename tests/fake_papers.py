"""Loopback arXiv (Atom), Semantic Scholar, OpenAlex, DBLP and Papers with Code, on one server under prefixes.

Recorded-style answers for seven arXiv ids, chosen so the resolution chain is exercised end to end:
sources that disagree (ResNet's year: DBLP 2016, Semantic Scholar 2015), DBLP records that are only
CoRR (ViT, ResNet strikes back), a Semantic Scholar venue that is just arXiv, a paper Semantic
Scholar does not know, a Papers with Code 404, missing authorships, and an id nobody knows.
Point sn_lake at it with :meth:`FakePapers.environment`.
"""

from __future__ import annotations

from urllib.parse import unquote
from xml.sax.saxutils import escape

from tests.loopback_server import FakeApi, Request, Response

PREFIX = {
    "arxiv": "/arxiv/api/query",
    "s2": "/s2/graph/v1",
    "openalex": "/openalex",
    "dblp": "/dblp/search/publ/api",
    "pwc": "/pwc/api/v1",
}


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _inst(name, country, kind):
    return {
        "id": f"https://openalex.org/I{abs(hash(name)) % 10**8}",
        "display_name": name,
        "country_code": country,
        "type": kind,
    }


MSRA = _inst("Microsoft Research Asia (China)", "CN", "company")
GOOGLE = _inst("Google (United States)", "US", "company")
MIT = _inst("Massachusetts Institute of Technology", "US", "education")
META = _inst("Meta (France)", "FR", "company")
SORBONNE = _inst("Sorbonne Université", "FR", "education")
TUEBINGEN = _inst("University of Tübingen", "DE", "education")


def _authorships(*people):
    return [
        {
            "author_position": "middle",
            "author": {"display_name": name},
            "institutions": list(insts),
            "countries": sorted({i["country_code"] for i in insts}),
        }
        for name, insts in people
    ]


PAPERS = {
    "1512.03385": {
        "arxiv": {
            "title": "Deep Residual Learning for Image Recognition",
            "published": "2015-12-10T19:51:55Z",
            "authors": ["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"],
            "comment": "Tech report",
            "abstract": "Deeper neural networks are more difficult to train. We present a residual learning framework.",
        },
        "s2": {
            "paperId": "2c03df8b48bf3fa39054345bafabfeff15bfd11d",
            "title": "Deep Residual Learning for Image Recognition",
            "year": 2015,
            "venue": "Computer Vision and Pattern Recognition",
            "publicationVenue": {
                "id": "768b87bd",
                "name": "Computer Vision and Pattern Recognition",
                "type": "conference",
                "alternate_names": ["CVPR"],
            },
            "externalIds": {"DOI": "10.1109/CVPR.2016.90", "ArXiv": "1512.03385", "DBLP": "conf/cvpr/HeZRS16"},
            "authors": [
                {"authorId": "39353098", "name": "Kaiming He"},
                {"authorId": "1771551", "name": "X. Zhang"},
                {"authorId": "3080683", "name": "Shaoqing Ren"},
                {"authorId": "2109136147", "name": "Jian Sun"},
            ],
            "abstract": None,
        },
        "dblp": [
            {
                "key": "journals/corr/HeZRS15",
                "title": "Deep Residual Learning for Image Recognition.",
                "venue": "CoRR",
                "year": "2015",
                "type": "Informal and Other Publications",
                "authors": {"author": [{"text": "Kaiming He"}]},
            },
            {
                "key": "conf/cvpr/HeZRS16",
                "title": "Deep Residual Learning for Image Recognition.",
                "venue": "CVPR",
                "year": "2016",
                "type": "Conference and Workshop Papers",
                "doi": "10.1109/CVPR.2016.90",
                "authors": {
                    "author": [
                        {"@pid": "34/5789", "text": "Kaiming He"},
                        {"text": "Xiangyu Zhang 0005"},
                        {"text": "Shaoqing Ren"},
                        {"text": "Jian Sun 0001"},
                    ]
                },
            },
        ],
        "pwc": {
            "id": "deep-residual-learning-for-image",
            "arxiv_id": "1512.03385",
            "title": "Deep Residual Learning for Image Recognition",
            "published": "2015-12-10",
            "conference": "cvpr-2016-6",
            "proceeding": "cvpr-2016-6",
            "authors": ["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"],
        },
        "openalex": {
            "doi": "https://doi.org/10.1109/cvpr.2016.90",
            "title": "Deep Residual Learning for Image Recognition",
            "publication_year": 2016,
            "authorships": _authorships(
                ("Kaiming He", [MSRA]), ("Xiangyu Zhang", [MSRA]), ("Shaoqing Ren", [MSRA]), ("Jian Sun", [MSRA])
            ),
        },
    },
    "2104.00298": {
        "arxiv": {
            "title": "EfficientNetV2: Smaller Models and Faster Training",
            "published": "2021-04-01T17:58:36Z",
            "authors": ["Mingxing Tan", "Quoc V. Le"],
            "comment": "ICML 2021",
            "abstract": "This paper introduces EfficientNetV2, a new family of convolutional networks.",
        },
        "s2": {
            "paperId": "3b5ba5a1",
            "title": "EfficientNetV2: Smaller Models and Faster Training",
            "year": 2021,
            "venue": "International Conference on Machine Learning",
            "publicationVenue": {
                "id": "fc0a208c",
                "name": "International Conference on Machine Learning",
                "type": "conference",
            },
            "externalIds": {"ArXiv": "2104.00298", "DBLP": "conf/icml/TanL21"},
            "authors": [{"name": "Mingxing Tan"}, {"name": "Quoc V. Le"}],
        },
        "dblp": [
            {
                "key": "conf/icml/TanL21",
                "title": "EfficientNetV2: Smaller Models and Faster Training.",
                "venue": "ICML",
                "year": "2021",
                "authors": {"author": [{"text": "Mingxing Tan"}, {"text": "Quoc V. Le"}]},
            }
        ],
        "pwc": {
            "id": "efficientnetv2",
            "arxiv_id": "2104.00298",
            "title": "EfficientNetV2: Smaller Models and Faster Training",
            "published": "2021-04-01",
            "conference_name": "ICML 2021",
            "authors": ["Mingxing Tan", "Quoc V. Le"],
        },
        "openalex": {
            "doi": "https://doi.org/10.48550/arxiv.2104.00298",
            "title": "EfficientNetV2: Smaller Models and Faster Training",
            "publication_year": 2021,
            "authorships": _authorships(("Mingxing Tan", [GOOGLE]), ("Quoc V. Le", [GOOGLE])),
        },
    },
    "1706.06083": {
        "arxiv": {
            "title": "Towards Deep Learning Models Resistant to Adversarial Attacks",
            "published": "2017-06-19T17:53:01Z",
            "authors": ["Aleksander Madry", "Aleksandar Makelov", "Ludwig Schmidt", "Dimitris Tsipras", "Adrian Vladu"],
            "comment": "ICLR'18",
            "abstract": (
                "Recent work has demonstrated that deep neural networks are vulnerable to adversarial examples."
            ),
        },
        "s2": {
            "paperId": "7aa38b85",
            "title": "Towards Deep Learning Models Resistant to Adversarial Attacks",
            "year": 2017,
            "publicationVenue": {"name": "International Conference on Learning Representations"},
            "externalIds": {"ArXiv": "1706.06083"},
            "authors": [
                {"name": n}
                for n in ("A. Madry", "Aleksandar Makelov", "Ludwig Schmidt", "Dimitris Tsipras", "Adrian Vladu")
            ],
        },
        "dblp": [
            {
                "key": "journals/corr/MadryMSTV17",
                "title": "Towards Deep Learning Models Resistant to Adversarial Attacks.",
                "venue": "CoRR",
                "year": "2017",
            },
            {
                "key": "conf/iclr/MadryMSTV18",
                "title": "Towards Deep Learning Models Resistant to Adversarial Attacks.",
                "venue": "ICLR (Poster)",
                "year": "2018",
                "authors": {
                    "author": [
                        {"text": n}
                        for n in (
                            "Aleksander Madry",
                            "Aleksandar Makelov",
                            "Ludwig Schmidt",
                            "Dimitris Tsipras",
                            "Adrian Vladu",
                        )
                    ]
                },
            },
        ],
        "pwc": None,  # an empty search result
        "openalex": {
            "doi": "https://doi.org/10.48550/arxiv.1706.06083",
            "title": "Towards Deep Learning Models Resistant to Adversarial Attacks",
            "publication_year": 2017,
            "authorships": _authorships(
                *[
                    (n, [MIT])
                    for n in (
                        "Aleksander Mądry",
                        "Aleksandar Makelov",
                        "Ludwig Schmidt",
                        "Dimitris Tsipras",
                        "Adrian Vladu",
                    )
                ]
            ),
        },
    },
    "2010.11929": {
        "arxiv": {
            "title": "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
            "published": "2020-10-22T17:55:59Z",
            "authors": [
                "Alexey Dosovitskiy",
                "Lucas Beyer",
                "Alexander Kolesnikov",
                "Dirk Weissenborn",
                "Xiaohua Zhai",
                "Thomas Unterthiner",
                "Mostafa Dehghani",
                "Matthias Minderer",
                "Georg Heigold",
                "Sylvain Gelly",
                "Jakob Uszkoreit",
                "Neil Houlsby",
            ],
            "comment": (
                "Fine-tuning code and pre-trained models are available at "
                "https://github.com/google-research/vision_transformer"
            ),
            "abstract": (
                "While the Transformer architecture has become the de-facto standard for natural language processing "
                "tasks..."
            ),
        },
        "s2": {
            "paperId": "268d347e",
            "title": "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
            "year": 2020,
            "venue": "",
            "publicationVenue": None,
            "externalIds": {"ArXiv": "2010.11929"},
            "authors": [{"name": "Alexey Dosovitskiy"}],
        },  # S2 answers with one author: a disagreement
        "dblp": [
            {
                "key": "journals/corr/abs-2010-11929",
                "title": "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale.",
                "venue": "CoRR",
                "year": "2020",
            }
        ],
        "pwc": {
            "id": "an-image-is-worth-16x16-words",
            "arxiv_id": "2010.11929",
            "conference_name": "ICLR 2021",
            "title": "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
            "published": "2020-10-22",
        },
        "openalex": None,
    },
    "2110.00476": {
        "arxiv": {
            "title": "ResNet strikes back: An improved training procedure in timm",
            "published": "2021-10-01T15:57:51Z",
            "authors": ["Ross Wightman", "Hugo Touvron", "Hervé Jégou"],
            "comment": None,
            "abstract": (
                "The influential Residual Networks designed by He et al. remain the gold-standard architecture."
            ),
        },
        "s2": {
            "paperId": "a6a8a4a3",
            "title": "ResNet strikes back: An improved training procedure in timm",
            "year": 2021,
            "venue": "arXiv.org",
            "publicationVenue": {"name": "arXiv.org", "alternate_names": ["ArXiv"]},
            "externalIds": {"ArXiv": "2110.00476"},
            "authors": [{"name": "Ross Wightman"}, {"name": "Hugo Touvron"}, {"name": "H. Jégou"}],
        },
        "dblp": [
            {
                "key": "journals/corr/abs-2110-00476",
                "title": "ResNet strikes back: An improved training procedure in timm.",
                "venue": "CoRR",
                "year": "2021",
            }
        ],
        "pwc": {
            "id": "resnet-strikes-back",
            "arxiv_id": "2110.00476",
            "title": "ResNet strikes back: An improved training procedure in timm",
            "conference": None,
            "published": "2021-10-01",
        },
        "openalex": {
            "doi": "https://doi.org/10.48550/arxiv.2110.00476",
            "title": "ResNet strikes back: An improved training procedure in timm",
            "publication_year": 2021,
            "authorships": _authorships(
                ("Ross Wightman", []), ("Hugo Touvron", [META, SORBONNE]), ("Hervé Jégou", [META])
            ),
        },
    },
    "2003.01690": {
        "arxiv": {
            "title": "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks",
            "published": "2020-03-03T18:15:55Z",
            "authors": ["Francesco Croce", "Matthias Hein"],
            "comment": "In ICML 2020",
            "journal_ref": "ICML 2020",
            "abstract": "The field of defense strategies against adversarial attacks...",
        },
        "s2": None,  # Semantic Scholar answers null for it
        "dblp": [],  # no hits
        "pwc": "404",
        "openalex": {
            "doi": "https://doi.org/10.48550/arxiv.2003.01690",
            "publication_year": 2020,
            "title": "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks",
            "authorships": _authorships(("Francesco Croce", [TUEBINGEN]), ("Matthias Hein", [TUEBINGEN])),
        },
    },
    "2401.99999": {"arxiv": None, "s2": None, "dblp": [], "pwc": None, "openalex": None},  # nobody knows it
}


def atom_entry(paper_id: str, paper: dict) -> str:
    a = paper["arxiv"]
    authors = "".join(f"<author><name>{escape(n)}</name></author>" for n in a["authors"])
    extra = ""
    if a.get("comment"):
        extra += f"<arxiv:comment>{escape(a['comment'])}</arxiv:comment>"
    if a.get("journal_ref"):
        extra += f"<arxiv:journal_ref>{escape(a['journal_ref'])}</arxiv:journal_ref>"
    return (
        f"<entry><id>http://arxiv.org/abs/{paper_id}v2</id><updated>{a['published']}</updated>"
        f"<published>{a['published']}</published><title>{escape(a['title'])}</title>"
        f"<summary>  {escape(a['abstract'])}\n</summary>{authors}{extra}"
        f'<link href="http://arxiv.org/abs/{paper_id}v2" rel="alternate" type="text/html"/>'
        f'<arxiv:primary_category term="cs.CV" scheme="http://arxiv.org/schemas/atom"/></entry>'
    )


class FakePapers(FakeApi):
    def __init__(self, papers: dict | None = None) -> None:
        super().__init__()
        self.papers = PAPERS if papers is None else papers
        self.route("GET", PREFIX["arxiv"], self.arxiv)
        self.route("POST", PREFIX["s2"] + "/paper/batch", self.s2_batch)
        self.route("GET", PREFIX["openalex"] + "/works", self.openalex_works)
        self.route("GET", PREFIX["dblp"], self.dblp)
        self.route("GET", PREFIX["pwc"] + "/papers/", self.pwc)

    @staticmethod
    def environment(base_url: str) -> dict[str, str]:
        """The SN_LAKE_* settings that point sn_lake at this fake (intervals at zero: tests never sleep)."""
        return {
            "SN_LAKE_ARXIV_URL": base_url + PREFIX["arxiv"],
            "SN_LAKE_S2_URL": base_url + PREFIX["s2"],
            "SN_LAKE_OPENALEX_URL": base_url + PREFIX["openalex"],
            "SN_LAKE_DBLP_URL": base_url + PREFIX["dblp"],
            "SN_LAKE_PWC_URL": base_url + PREFIX["pwc"],
            "SN_LAKE_ARXIV_INTERVAL_S": "0",
            "SN_LAKE_PAPER_API_INTERVAL_S": "0",
        }

    def arxiv(self, request: Request) -> Response:
        ids = [i for i in (request.arg("id_list") or "").split(",") if i]
        entries = "".join(atom_entry(i, self.papers[i]) for i in ids if self.papers.get(i, {}).get("arxiv"))
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            f"<title>arXiv Query: id_list={escape(','.join(ids))}</title>"
            f"<opensearch:totalResults>{len(ids)}</opensearch:totalResults>{entries}</feed>"
        )
        return Response(200, feed, headers={"Content-Type": "application/atom+xml; charset=utf-8"})

    def s2_batch(self, request: Request) -> Response:
        ids = (request.json() or {}).get("ids") or []
        if len(ids) > 500:
            return Response(400, {"error": "Too many ids: at most 500 per request."})
        fields = (request.arg("fields") or "").split(",")
        answer = []
        for ident in ids:
            record = self.papers.get(ident.removeprefix("ARXIV:"), {}).get("s2")
            answer.append({k: v for k, v in record.items() if k == "paperId" or k in fields} if record else None)
        return Response(200, answer)

    def openalex_works(self, request: Request) -> Response:
        flt = unquote(request.arg("filter") or "")
        if not flt.startswith("doi:"):
            return Response(400, {"error": "Invalid query parameters error.", "message": f"unsupported filter {flt!r}"})
        wanted = {d.lower().removeprefix("https://doi.org/") for d in flt[4:].split("|")}
        works = [
            dict(p["openalex"], id=f"https://openalex.org/W{abs(hash(pid)) % 10**9}")
            for pid, p in self.papers.items()
            if p.get("openalex") and p["openalex"]["doi"].lower().removeprefix("https://doi.org/") in wanted
        ]
        return Response(
            200,
            {
                "meta": {"count": len(works), "page": 1, "per_page": int(request.arg("per-page") or 25)},
                "results": works,
            },
        )

    def dblp(self, request: Request) -> Response:
        query = _key(request.arg("q") or "")
        hits = [
            {"@score": "8", "@id": str(n), "info": info}
            for p in self.papers.values()
            for n, info in enumerate(p.get("dblp") or [])
            if _key(info["title"]) == query
        ]
        body = {
            "result": {
                "query": request.arg("q"),
                "status": {"@code": "200", "text": "OK"},
                "hits": {"@total": str(len(hits)), "@sent": str(len(hits)), **({"hit": hits} if hits else {})},
            }
        }
        return Response(200, body)

    def pwc(self, request: Request) -> Response:
        paper = self.papers.get(request.arg("arxiv_id") or "", {})
        record = paper.get("pwc")
        if record == "404":
            return Response(404, {"detail": "Not found."})
        results = [record] if record else []
        return Response(200, {"count": len(results), "next": None, "previous": None, "results": results})
