"""Countries: ISO 3166-1 alpha-2 codes, and the names people and CRMs write instead of them.

The code list and short names come from the public-domain tz database table ``iso3166.tab``.
"""
from __future__ import annotations

import re
import unicodedata

COUNTRIES: dict[str, str] = {
    "AD": "Andorra", "AE": "United Arab Emirates", "AF": "Afghanistan", "AG": "Antigua & Barbuda",
    "AI": "Anguilla", "AL": "Albania", "AM": "Armenia", "AO": "Angola", "AQ": "Antarctica", "AR": "Argentina",
    "AS": "Samoa (American)", "AT": "Austria", "AU": "Australia", "AW": "Aruba", "AX": "Åland Islands",
    "AZ": "Azerbaijan", "BA": "Bosnia & Herzegovina", "BB": "Barbados", "BD": "Bangladesh", "BE": "Belgium",
    "BF": "Burkina Faso", "BG": "Bulgaria", "BH": "Bahrain", "BI": "Burundi", "BJ": "Benin", "BL": "St Barthelemy",
    "BM": "Bermuda", "BN": "Brunei", "BO": "Bolivia", "BQ": "Caribbean NL", "BR": "Brazil", "BS": "Bahamas",
    "BT": "Bhutan", "BV": "Bouvet Island", "BW": "Botswana", "BY": "Belarus", "BZ": "Belize", "CA": "Canada",
    "CC": "Cocos (Keeling) Islands", "CD": "Congo (Dem. Rep.)", "CF": "Central African Rep.", "CG": "Congo (Rep.)",
    "CH": "Switzerland", "CI": "Côte d'Ivoire", "CK": "Cook Islands", "CL": "Chile", "CM": "Cameroon",
    "CN": "China", "CO": "Colombia", "CR": "Costa Rica", "CU": "Cuba", "CV": "Cape Verde", "CW": "Curaçao",
    "CX": "Christmas Island", "CY": "Cyprus", "CZ": "Czech Republic", "DE": "Germany", "DJ": "Djibouti",
    "DK": "Denmark", "DM": "Dominica", "DO": "Dominican Republic", "DZ": "Algeria", "EC": "Ecuador",
    "EE": "Estonia", "EG": "Egypt", "EH": "Western Sahara", "ER": "Eritrea", "ES": "Spain", "ET": "Ethiopia",
    "FI": "Finland", "FJ": "Fiji", "FK": "Falkland Islands", "FM": "Micronesia", "FO": "Faroe Islands",
    "FR": "France", "GA": "Gabon", "GB": "Britain (UK)", "GD": "Grenada", "GE": "Georgia", "GF": "French Guiana",
    "GG": "Guernsey", "GH": "Ghana", "GI": "Gibraltar", "GL": "Greenland", "GM": "Gambia", "GN": "Guinea",
    "GP": "Guadeloupe", "GQ": "Equatorial Guinea", "GR": "Greece",
    "GS": "South Georgia & the South Sandwich Islands", "GT": "Guatemala", "GU": "Guam", "GW": "Guinea-Bissau",
    "GY": "Guyana", "HK": "Hong Kong", "HM": "Heard Island & McDonald Islands", "HN": "Honduras", "HR": "Croatia",
    "HT": "Haiti", "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IM": "Isle of Man",
    "IN": "India", "IO": "British Indian Ocean Territory", "IQ": "Iraq", "IR": "Iran", "IS": "Iceland",
    "IT": "Italy", "JE": "Jersey", "JM": "Jamaica", "JO": "Jordan", "JP": "Japan", "KE": "Kenya",
    "KG": "Kyrgyzstan", "KH": "Cambodia", "KI": "Kiribati", "KM": "Comoros", "KN": "St Kitts & Nevis",
    "KP": "Korea (North)", "KR": "Korea (South)", "KW": "Kuwait", "KY": "Cayman Islands", "KZ": "Kazakhstan",
    "LA": "Laos", "LB": "Lebanon", "LC": "St Lucia", "LI": "Liechtenstein", "LK": "Sri Lanka", "LR": "Liberia",
    "LS": "Lesotho", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "LY": "Libya", "MA": "Morocco",
    "MC": "Monaco", "MD": "Moldova", "ME": "Montenegro", "MF": "St Martin (French)", "MG": "Madagascar",
    "MH": "Marshall Islands", "MK": "North Macedonia", "ML": "Mali", "MM": "Myanmar (Burma)", "MN": "Mongolia",
    "MO": "Macau", "MP": "Northern Mariana Islands", "MQ": "Martinique", "MR": "Mauritania", "MS": "Montserrat",
    "MT": "Malta", "MU": "Mauritius", "MV": "Maldives", "MW": "Malawi", "MX": "Mexico", "MY": "Malaysia",
    "MZ": "Mozambique", "NA": "Namibia", "NC": "New Caledonia", "NE": "Niger", "NF": "Norfolk Island",
    "NG": "Nigeria", "NI": "Nicaragua", "NL": "Netherlands", "NO": "Norway", "NP": "Nepal", "NR": "Nauru",
    "NU": "Niue", "NZ": "New Zealand", "OM": "Oman", "PA": "Panama", "PE": "Peru", "PF": "French Polynesia",
    "PG": "Papua New Guinea", "PH": "Philippines", "PK": "Pakistan", "PL": "Poland", "PM": "St Pierre & Miquelon",
    "PN": "Pitcairn", "PR": "Puerto Rico", "PS": "Palestine", "PT": "Portugal", "PW": "Palau", "PY": "Paraguay",
    "QA": "Qatar", "RE": "Réunion", "RO": "Romania", "RS": "Serbia", "RU": "Russia", "RW": "Rwanda",
    "SA": "Saudi Arabia", "SB": "Solomon Islands", "SC": "Seychelles", "SD": "Sudan", "SE": "Sweden",
    "SG": "Singapore", "SH": "St Helena", "SI": "Slovenia", "SJ": "Svalbard & Jan Mayen", "SK": "Slovakia",
    "SL": "Sierra Leone", "SM": "San Marino", "SN": "Senegal", "SO": "Somalia", "SR": "Suriname",
    "SS": "South Sudan", "ST": "Sao Tome & Principe", "SV": "El Salvador", "SX": "St Maarten (Dutch)",
    "SY": "Syria", "SZ": "Eswatini (Swaziland)", "TC": "Turks & Caicos Is", "TD": "Chad", "TF": "French S. Terr.",
    "TG": "Togo", "TH": "Thailand", "TJ": "Tajikistan", "TK": "Tokelau", "TL": "East Timor", "TM": "Turkmenistan",
    "TN": "Tunisia", "TO": "Tonga", "TR": "Turkey", "TT": "Trinidad & Tobago", "TV": "Tuvalu", "TW": "Taiwan",
    "TZ": "Tanzania", "UA": "Ukraine", "UG": "Uganda", "UM": "US minor outlying islands", "US": "United States",
    "UY": "Uruguay", "UZ": "Uzbekistan", "VA": "Vatican City", "VC": "St Vincent", "VE": "Venezuela",
    "VG": "Virgin Islands (UK)", "VI": "Virgin Islands (US)", "VN": "Vietnam", "VU": "Vanuatu",
    "WF": "Wallis & Futuna", "WS": "Samoa (western)", "YE": "Yemen", "YT": "Mayotte", "ZA": "South Africa",
    "ZM": "Zambia", "ZW": "Zimbabwe",
}

# Names and codes that CRMs, people and other standards use (compared after normalising: case, accents,
# punctuation and '&' / 'and' do not matter).
_ALIASES: dict[str, str] = {
    "United States of America": "US", "USA": "US", "U.S.A.": "US", "U.S.": "US", "America": "US",
    "United Kingdom": "GB", "UK": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "United Kingdom of Great Britain and Northern Ireland": "GB",
    "Deutschland": "DE", "Holland": "NL", "The Netherlands": "NL", "Nederland": "NL",
    "Espana": "ES", "Italia": "IT", "Schweiz": "CH", "Suisse": "CH", "Osterreich": "AT",
    "Czechia": "CZ", "South Korea": "KR", "Korea": "KR", "Republic of Korea": "KR", "North Korea": "KP",
    "Russian Federation": "RU", "UAE": "AE", "U.A.E.": "AE", "Turkiye": "TR", "Türkiye": "TR",
    "Viet Nam": "VN", "Ivory Coast": "CI", "Cote d'Ivoire": "CI", "Macao": "MO", "Burma": "MM",
    "Myanmar": "MM", "Swaziland": "SZ", "Eswatini": "SZ", "Timor-Leste": "TL", "Cabo Verde": "CV",
    "Democratic Republic of the Congo": "CD", "DR Congo": "CD", "Republic of the Congo": "CG",
    "Central African Republic": "CF", "Hong Kong SAR": "HK", "Taiwan, Province of China": "TW",
    "Iran, Islamic Republic of": "IR", "Moldova, Republic of": "MD", "Tanzania, United Republic of": "TZ",
    "Lao People's Democratic Republic": "LA", "Syrian Arab Republic": "SY", "Brunei Darussalam": "BN",
    "Bolivia, Plurinational State of": "BO", "Venezuela, Bolivarian Republic of": "VE",
    "Macedonia": "MK", "Vatican": "VA", "Holy See": "VA", "Palestine, State of": "PS",
    "Saint Kitts and Nevis": "KN", "Saint Lucia": "LC", "Saint Vincent and the Grenadines": "VC",
    "Trinidad and Tobago": "TT", "Bosnia and Herzegovina": "BA", "Antigua and Barbuda": "AG",
    "Samoa": "WS", "American Samoa": "AS", "British Virgin Islands": "VG", "US Virgin Islands": "VI",
    "Saint Martin": "MF", "Sint Maarten": "SX", "Saint Barthelemy": "BL", "Saint Helena": "SH",
    "Saint Pierre and Miquelon": "PM", "Sao Tome and Principe": "ST", "Turks and Caicos Islands": "TC",
    "Wallis and Futuna": "WF", "Falkland Islands (Malvinas)": "FK", "Reunion": "RE", "Curacao": "CW",
    "Aland Islands": "AX",
    # ISO 3166-1 alpha-3 codes of the countries most often seen in billing data
    "GBR": "GB", "DEU": "DE", "FRA": "FR", "ESP": "ES", "ITA": "IT", "NLD": "NL",
    "BEL": "BE", "CHE": "CH", "AUT": "AT", "IRL": "IE", "SWE": "SE", "NOR": "NO", "DNK": "DK",
    "FIN": "FI", "POL": "PL", "PRT": "PT", "CZE": "CZ", "CAN": "CA", "MEX": "MX", "BRA": "BR",
    "ARG": "AR", "CHL": "CL", "COL": "CO", "AUS": "AU", "NZL": "NZ", "JPN": "JP", "CHN": "CN",
    "IND": "IN", "SGP": "SG", "HKG": "HK", "KOR": "KR", "ISR": "IL", "ARE": "AE", "SAU": "SA",
    "ZAF": "ZA", "TUR": "TR", "ISL": "IS", "BHR": "BH", "KWT": "KW", "OMN": "OM", "JOR": "JO",
    "TUN": "TN", "VNM": "VN", "LUX": "LU", "GRC": "GR", "HUN": "HU", "ROU": "RO", "EST": "EE",
    "LVA": "LV", "LTU": "LT", "PHL": "PH", "IDN": "ID", "MYS": "MY", "THA": "TH", "TWN": "TW",
    "EGY": "EG", "NGA": "NG", "KEN": "KE", "UKR": "UA",
}


def _key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"\bst\b\.?", "saint", text)
    text = re.sub(r"^the\s+", "", text.strip())
    return re.sub(r"[^a-z0-9]+", "", text)


_BY_NAME: dict[str, str] = {}
for _code, _name in COUNTRIES.items():
    _BY_NAME.setdefault(_key(_name), _code)
    _BY_NAME.setdefault(_key(re.sub(r"\s*\(.*\)", "", _name)), _code)  # "Britain (UK)" -> "Britain"
for _name in ("Congo", "Virgin Islands"):  # ambiguous: the user must say which
    _BY_NAME.pop(_key(_name), None)
for _name, _code in _ALIASES.items():
    _BY_NAME[_key(_name)] = _code


def country_code(value: str) -> str | None:
    """'us', 'US', 'United States', 'U.S.A.', 'Deutschland', 'DEU' -> the ISO-2 code; None if unknown."""
    text = (value or "").strip()
    if len(text) == 2 and text.upper() in COUNTRIES:
        return text.upper()
    return _BY_NAME.get(_key(text))
