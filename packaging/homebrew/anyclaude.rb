# Homebrew formula for anyclaude, for a tap (Homebrew's own core wants a
# tagged release with a url and sha256; until there is one this builds the
# default branch). To use it:
#   brew tap-new "$USER/local"
#   cp packaging/homebrew/anyclaude.rb "$(brew --repository "$USER/local")/Formula/"
#   brew install --HEAD "$USER/local/anyclaude"
# The homepage and head URL are where the project is published; keep them
# in step with the repository. Claude Code itself is not a dependency
# (it is not in Homebrew core); scripts/install-claude.sh installs it.
class Anyclaude < Formula
  desc "Run Claude Code on local models (MLX-LM, LM Studio, llama.cpp, Ollama, vLLM)"
  homepage "https://github.com/anyclaude/anyclaude"
  head "https://github.com/anyclaude/anyclaude.git", branch: "main"

  depends_on "pkgconf" => :build
  depends_on "cjson"
  depends_on "libevent"

  uses_from_macos "curl"

  def install
    system "make", "install", "PREFIX=#{prefix}", "MANDIR=#{man}"
  end

  test do
    assert_match(/^anyclaude \d+\.\d+\.\d+$/, shell_output("#{bin}/anyclaude --version"))
    # doctor with the backend down: one verdict a line, a fix to try, exit 1
    port = free_port
    output = shell_output("#{bin}/anyclaude doctor --mode llamacpp " \
                          "--backend http://127.0.0.1:#{port}/v1 --claude /usr/bin/true 2>&1", 1)
    assert_match "[FAIL] backend answers", output
    assert_match "fix: start llama-server", output
    # a bad value: one line naming it, exit 2
    assert_match "unknown mode", shell_output("#{bin}/anyclaude serve --mode nope 2>&1", 2)
  end
end
