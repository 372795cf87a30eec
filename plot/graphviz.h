// plot/graphviz.h — drawing a Graphviz DOT graph (core/graph_dot.h: to_dot) as an SVG file.
//
// Graphviz lays out and draws graphs; chalk only writes the DOT text. The drawing is done by
// Graphviz's `dot` program (Debian 12: the `graphviz` package, 2.42; scripts/install-deps.sh
// installs it), run as a separate process:
//
//   dot -Tsvg PATH.dot -o PATH.svg
//
// The program, not Graphviz's C library (libgvc, Debian's libgraphviz-dev): the library would
// make Graphviz's headers a build dependency of chalk for one picture, while the program is
// needed only where a picture is drawn (demo 02, one test), its absence is a clear message
// there and not a build failure, and the .dot file it reads stays beside the SVG for anyone
// to open in another viewer. Like the rest of plot/, this includes nothing of chalk's but
// core/error.h.
#pragma once

#include <string>

namespace chalk::plot {

// Is Graphviz's `dot` program on PATH (an executable file named dot in one of its folders)?
bool dot_available();

// Writes `dot_text` to `svg_path` with its extension replaced by ".dot", then runs
// `dot -Tsvg <that file> -o <svg_path>` (no shell: the paths are passed as they are).
// Throws chalk::Error naming the path when the .dot file cannot be written, when `dot` is not
// on PATH (saying how to install it), or when dot fails (with dot's own message, e.g. a syntax
// error and its line) or writes no SVG.
void render_dot(const std::string& svg_path, const std::string& dot_text);

}  // namespace chalk::plot
