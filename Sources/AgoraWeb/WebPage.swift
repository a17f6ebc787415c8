import Hummingbird
import NIOCore

/// A page a daemon serves at `/` for a person with a browser: one HTML shell, the shared
/// stylesheet and script (`WebAssets`), and the page's own script. Everything comes from the
/// process itself — no CDN, no outside network — and the Content-Security-Policy lets only this
/// origin's scripts run, so nothing a page shows (a model's name, a provider's endpoint, an answer)
/// can ever run as code. Pages read the daemon's JSON API like any other client: what a page shows,
/// a script can fetch too.
public struct WebPage: Sendable {
    /// The page's script is served at `/web/<name>.js`.
    public let name: String
    public let title: String
    /// The page's own JavaScript; it builds the page inside `<main id="app">` with `Agora.*`.
    public let script: String

    public init(name: String, title: String, script: String) {
        self.name = name; self.title = title; self.script = script
    }

    var html: String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <link rel="stylesheet" href="/web/agora.css">
        </head>
        <body>
        <header><a class="brand" href="/">Agora</a> <span class="subtitle">\(title)</span><nav id="nav"></nav><span id="live"></span></header>
        <main id="app"><p class="muted">Loading…</p></main>
        <script src="/web/agora.js"></script>
        <script src="/web/\(name).js"></script>
        </body>
        </html>
        """
    }
}

extension Response {
    /// A text answer of `contentType` that browsers must not reinterpret, under a policy that runs
    /// only this origin's scripts and styles.
    static func web(_ text: String, contentType: String) -> Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache"]
        headers[.contentSecurityPolicy] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension Router {
    /// Serves `page` at `/` (and `/index.html`), its script, and the shared stylesheet and script.
    public func addWebPage(_ page: WebPage) {
        let html = page.html, script = page.script
        get("/") { _, _ in Response.web(html, contentType: "text/html; charset=utf-8") }
        get("/index.html") { _, _ in Response.web(html, contentType: "text/html; charset=utf-8") }
        get("/web/agora.css") { _, _ in Response.web(WebAssets.stylesheet, contentType: "text/css; charset=utf-8") }
        get("/web/agora.js") { _, _ in Response.web(WebAssets.script, contentType: "text/javascript; charset=utf-8") }
        get("/web/\(page.name).js") { _, _ in Response.web(script, contentType: "text/javascript; charset=utf-8") }
        // Browsers ask for it on every page; the answer is "no icon" rather than a 404 in the console.
        get("/favicon.ico") { _, _ in Response(status: .noContent) }
    }
}
