//! The browser entry point: hydrates the server-rendered page. Nothing else lives here.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Marker for people and end-to-end tests: clicks before this point hit inert SSR HTML.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
