"""Language identification behind `language:response_language` and the change_case checks: langdetect, seeded."""

from __future__ import annotations

import pytest

from nemo_pipeline.evaluation.ifeval import detect_language, follows_strict

# One or two ordinary sentences per language: the 22 languages of IFEval's data plus English and neighbours that
# share a script with them.
SAMPLES = [
    ("en", "The weather was lovely this morning, so we decided to walk to the market and buy some fresh bread."),
    ("de", "Das Wetter war heute Morgen schön, deshalb sind wir zum Markt gegangen und haben frisches Brot gekauft."),
    ("it", "Il tempo era bello questa mattina, quindi abbiamo deciso di andare al mercato e comprare del pane."),
    ("pt", "O tempo estava bonito esta manhã, então decidimos ir ao mercado e comprar pão fresco para a família."),
    ("fi", "Sää oli tänä aamuna kaunis, joten päätimme kävellä torille ja ostaa tuoretta leipää. Se oli mukavaa."),
    ("sw", "Hali ya hewa ilikuwa nzuri asubuhi hii, kwa hiyo tuliamua kwenda sokoni na kununua mkate wa watu wote."),
    ("vi", "Thời tiết sáng nay rất đẹp, vì vậy chúng tôi quyết định đi bộ ra chợ và mua bánh mì tươi."),
    ("fr", "Le temps était beau ce matin, alors nous avons décidé de marcher jusqu'au marché pour acheter du pain."),
    ("es", "El tiempo estaba muy bonito esta mañana, así que decidimos caminar al mercado y comprar pan para la casa."),
    ("ru", "Сегодня утром была хорошая погода, поэтому мы решили пойти на рынок и купить свежий хлеб."),
    ("bg", "Времето тази сутрин беше хубаво, затова решихме да отидем до пазара и да купим пресен хляб."),
    ("ar", "كان الطقس جميلا هذا الصباح، لذلك قررنا أن نمشي إلى السوق ونشتري خبزا طازجا."),
    ("fa", "هوا امروز صبح خیلی خوب بود، بنابراین تصمیم گرفتیم پیاده به بازار برویم و نان تازه بخریم."),
    ("ur", "آج صبح موسم بہت اچھا تھا، اس لیے ہم نے بازار جانے اور تازہ روٹی خریدنے کا فیصلہ کیا۔"),
    ("hi", "आज सुबह मौसम बहुत अच्छा था, इसलिए हमने बाज़ार जाकर ताज़ी रोटी खरीदने का फैसला किया। यह बहुत अच्छा है।"),
    ("mr", "आज सकाळी हवामान खूप छान होते, म्हणून आम्ही बाजारात जाऊन ताजी भाकरी घेण्याचे ठरवले. हे खूप छान आहे."),
    ("ne", "आज बिहान मौसम राम्रो थियो, त्यसैले हामीले बजार गएर ताजा रोटी किन्ने निर्णय गर्यौं। यो राम्रो छ।"),
    ("bn", "আজ সকালে আবহাওয়া খুব সুন্দর ছিল, তাই আমরা বাজারে গিয়ে তাজা রুটি কেনার সিদ্ধান্ত নিলাম।"),
    ("gu", "આજે સવારે હવામાન ખૂબ સરસ હતું, તેથી અમે બજારમાં જઈને તાજી રોટલી ખરીદવાનું નક્કી કર્યું."),
    ("pa", "ਅੱਜ ਸਵੇਰੇ ਮੌਸਮ ਬਹੁਤ ਵਧੀਆ ਸੀ, ਇਸ ਲਈ ਅਸੀਂ ਬਾਜ਼ਾਰ ਜਾ ਕੇ ਤਾਜ਼ੀ ਰੋਟੀ ਖਰੀਦਣ ਦਾ ਫੈਸਲਾ ਕੀਤਾ।"),
    ("kn", "ಇಂದು ಬೆಳಿಗ್ಗೆ ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿತ್ತು, ಆದ್ದರಿಂದ ನಾವು ಮಾರುಕಟ್ಟೆಗೆ ಹೋಗಿ ತಾಜಾ ಬ್ರೆಡ್ ಖರೀದಿಸಲು ನಿರ್ಧರಿಸಿದೆವು."),
    ("te", "ఈ రోజు ఉదయం వాతావరణం చాలా బాగుంది, కాబట్టి మేము మార్కెట్‌కి వెళ్లి తాజా రొట్టె కొనాలని నిర్ణయించుకున్నాము."),
    ("ta", "இன்று காலை வானிலை மிகவும் நன்றாக இருந்தது, எனவே நாங்கள் சந்தைக்குச் சென்று புதிய ரொட்டி வாங்க முடிவு செய்தோம்."),
    ("th", "เช้านี้อากาศดีมาก เราจึงตัดสินใจเดินไปตลาดและซื้อขนมปังสด"),
    ("ko", "오늘 아침 날씨가 아주 좋아서 우리는 시장에 걸어가서 신선한 빵을 사기로 했습니다."),
    ("ja", "今朝は天気がとても良かったので、私たちは市場まで歩いて新鮮なパンを買うことにしました。"),
    ("zh-cn", "今天早上天气很好，所以我们决定步行去市场买新鲜的面包。"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("language", "text"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_detects_language(language: str, text: str) -> None:
    assert detect_language(text) == language


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),  # no features: langdetect raises, and the reference counts the instruction as followed
        ("1234 5678 !!!", None),
        ("Silent autumn pond\nan old frog leaps into it\nthe sound of water", "en"),  # an English haiku
        # A Korean answer quoting English technical words is still Korean.
        ("파이썬(Python)은 배우기 쉬운 프로그래밍 언어입니다. 많은 개발자가 API와 GPU 작업에 사용합니다.", "ko"),
    ],
)
def test_detect_edge_cases(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


@pytest.mark.timeout(30)
def test_seeded_detection_is_langdetects_own_and_repeatable() -> None:
    """The same answers as langdetect's module-level `detect` (the reference's call) with the global seed set,
    every time, without changing that global."""
    import langdetect
    from langdetect import DetectorFactory

    from nemo_pipeline.evaluation.ifeval import LANGDETECT_SEED

    texts = [text for _, text in SAMPLES] + ["ok", "Hi there", "No", "Ciao amico mio"]  # short ones vary unseeded
    ours = [detect_language(text) for text in texts]
    assert [detect_language(text) for text in texts] == ours
    old = DetectorFactory.seed
    DetectorFactory.seed = LANGDETECT_SEED
    try:
        assert [langdetect.detect(text) for text in texts] == ours
    finally:
        DetectorFactory.seed = old


@pytest.mark.timeout(10)
def test_response_language_check_uses_detector() -> None:
    german = dict(SAMPLES)["de"]
    assert follows_strict("language:response_language", german, {"language": "de"})
    assert not follows_strict("language:response_language", german, {"language": "it"})
    assert not follows_strict("language:response_language", dict(SAMPLES)["hi"], {"language": "mr"})
    assert not follows_strict("language:response_language", dict(SAMPLES)["fa"], {"language": "ar"})
    # A response without letters passes, as in the reference.
    assert follows_strict("language:response_language", "12345 !!!", {"language": "de"})
