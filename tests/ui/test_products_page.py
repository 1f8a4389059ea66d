"""The catalog page: products with add-ons under their parent, and adding one with its validation."""
from tests.ui.conftest import texts


def _inputs(at):
    return {w.label: w for w in at.text_input}


def test_products_show_addons_under_their_parent_and_can_be_added(open_page):
    at = open_page("pages/products.py", "finance")
    table = at.dataframe[0].value
    names = list(table["Product"])
    platform = names.index("Platform fee")
    assert "    ↳ Onboarding package" in names[platform + 1:platform + 3]  # under its parent
    assert "Add-on" in set(table["Type"])
    _inputs(at)["SKU"].input("SUPPORT")
    at.get("form_submit_button")[0].click().run()
    assert "a product name is required" in " ".join(e.value for e in at.error)
    _inputs(at)["SKU"].input("SUPPORT")
    _inputs(at)["Name (printed on invoices)"].input("Premium support")
    at.get("form_submit_button")[0].click().run()
    assert "Premium support" in list(at.dataframe[0].value["Product"])


def test_viewer_sees_the_catalog_without_the_add_form(open_page):
    at = open_page("pages/products.py", "viewer")
    assert "What you sell" in texts(at)
    assert not at.get("form")
