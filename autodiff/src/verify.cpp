// Diagnosing hand-derived gradients on any tape (see verify.hpp for the candidates, the decision
// order and the cost).
#include <autodiff/inspect.hpp>
#include <autodiff/registry.hpp>
#include <autodiff/verify.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

namespace matgrad {

namespace {

using Shape = std::array<std::size_t, 2>;

std::string number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return buf;
}

Shape shape_of(const Matrix& m) { return {m.shape(0), m.shape(1)}; }
std::string shape_str(const Shape& s) { return shape_text(s[0], s[1]); }

double max_abs(const Matrix& m) {
    double worst = 0.0;
    for (double x : m) worst = std::max(worst, std::abs(x));
    return worst;
}

Matrix transposed_copy(const Matrix& m) {
    Matrix t({m.shape(1), m.shape(0)});
    for (std::size_t i = 0; i < m.shape(0); ++i)
        for (std::size_t j = 0; j < m.shape(1); ++j) t(j, i) = m(i, j);
    return t;
}

// given ≈ k · form, relative to the scale of k · form (absolute when that is zero).
bool matches(const Matrix& given, const Matrix& form, double k, double tol) {
    if (shape_of(given) != shape_of(form)) return false;
    double worst = 0.0;
    for (std::size_t e = 0; e < given.size(); ++e) {
        const double d = std::abs(given.data()[e] - k * form.data()[e]);
        if (!(d <= worst)) worst = d;  // NaN counts as a mismatch
    }
    const double scale = std::abs(k) * max_abs(form);
    return worst <= tol * (scale > 0.0 ? scale : 1.0);
}

// The named constants in their fixed order: the sign, then each mean count N (N, 1/N, −N, −1/N).
std::vector<double> named_factors(bool with_one, const std::vector<double>& counts) {
    std::vector<double> ks;
    if (with_one) ks.push_back(1.0);
    ks.push_back(-1.0);
    for (double n : counts)
        if (n != 1.0) ks.insert(ks.end(), {n, 1.0 / n, -n, -1.0 / n});
    return ks;
}

std::optional<double> named_factor(const Matrix& given, const Matrix& form, const std::vector<double>& ks,
                                   double tol) {
    for (double k : ks)
        if (matches(given, form, k, tol)) return k;
    return std::nullopt;
}

// The least-squares k with given ≈ k · form, if it matches (never 0: an all-zero gradient is not
// "scaled by 0").
std::optional<double> fitted_factor(const Matrix& given, const Matrix& form, double tol) {
    if (shape_of(given) != shape_of(form)) return std::nullopt;
    double gf = 0.0, ff = 0.0;
    for (std::size_t e = 0; e < given.size(); ++e) {
        gf += given.data()[e] * form.data()[e];
        ff += form.data()[e] * form.data()[e];
    }
    if (!(ff > 0.0)) return std::nullopt;
    const double k = gf / ff;
    if (k != 0.0 && matches(given, form, k, tol)) return k;
    return std::nullopt;
}

// The count N that a named factor k is made of (0 when none: the sign alone, or fitted).
double count_of(double k, const std::vector<double>& counts) {
    for (double n : counts)
        if (n != 1.0 && (k == n || k == 1.0 / n || k == -n || k == -1.0 / n)) return n;
    return 0.0;
}

// What a matched constant says, e.g. −N: the 1/N was dropped and the sign flipped.
std::vector<std::string> factor_codes(double k, const std::vector<double>& counts) {
    if (k == 1.0) return {};
    if (k == -1.0) return {"sign_flipped"};
    const double n = count_of(k, counts);
    if (n == 0.0) return {"scaled"};
    std::vector<std::string> codes{std::abs(k) == n ? "missing_mean_factor" : "extra_mean_factor"};
    if (k < 0) codes.push_back("sign_flipped");
    return codes;
}

std::string code_explanation(const std::string& code, const std::string& name, const Shape& expected, double k,
                             const std::vector<double>& counts) {
    const std::string n = number(count_of(k, counts));
    if (code == "transposed") {
        // In the slides' layout a gradient has its variable's shape: dW1 has W1's shape.
        const std::string of = name.size() > 1 && name[0] == 'd' ? name.substr(1) : "its variable";
        return "transposed: " + name + " must have " + of + "'s shape, " + shape_str(expected);
    }
    if (code == "missing_mean_factor") return "the 1/N of the mean (N = " + n + ") was dropped";
    if (code == "extra_mean_factor") return "1/N (N = " + n + ") was applied twice";
    if (code == "sign_flipped") return "the sign is flipped";
    if (code == "scaled") return "off by the constant factor " + number(k);
    return "";
}

// "7 × (dZ1 Xᵀ)ᵀ": the matched form with its constant.
std::string form_text(const std::string& form, bool transposed, double k, const std::vector<double>& counts) {
    const bool phrase = form.find(' ') != std::string::npos && form.front() != '(';
    const std::string base = phrase && (transposed || k != 1.0) ? "(" + form + ")" : form;
    const std::string f = transposed ? base + "ᵀ" : base;
    if (k == 1.0) return f;
    if (k == -1.0) return "−" + f;
    const double n = count_of(k, counts);
    if (n == 0.0) return number(k) + " × " + f;
    const std::string sign = k < 0 ? "−" : "";
    return std::abs(k) == n ? sign + number(n) + " × " + f : sign + f + " / " + number(n);
}

// A mistake of operand i changes a gradient only when that operand needs one -- and not summing a
// gradient back only when the operand was broadcast (else it is no mistake at any values).
bool mistake_applies(const Var& v, const Mistake& m) {
    if (m.input >= v.num_inputs() || !v.input(m.input).requires_grad()) return false;
    return std::string_view(m.code) != "not_summed" || v.input(m.input).shape() != v.shape();
}

void fill_errors(GradientReport& r, const Matrix& given, const Matrix& expected) {
    double worst = -1.0;
    for (std::size_t i = 0; i < given.shape(0); ++i)
        for (std::size_t j = 0; j < given.shape(1); ++j) {
            const double d = std::abs(given(i, j) - expected(i, j));
            if (d > worst || std::isnan(d)) {
                worst = d;
                r.worst_row = i;
                r.worst_col = j;
                if (std::isnan(d)) break;
            }
        }
    const double scale = max_abs(expected);
    r.max_abs_error = worst;
    r.max_rel_error = worst / (scale > 0.0 ? scale : 1.0);
}

}  // namespace

std::string GradientReport::diagnosis_text() const {
    std::string text = diagnosis;
    for (const std::string& d : also) text += " + " + d;
    return text;
}

bool VerifyReport::ok() const {
    for (const GradientReport& g : gradients)
        if (!g.ok()) return false;
    return true;
}

namespace {

// One hand gradient judged in the decision order of diagnose_gradient, with the candidates offered
// one at a time (verify streams them from its mutated passes, keeping no copies of them).
class GradientMatcher {
public:
    GradientMatcher(std::string name, std::string formula, const Matrix& given, const Matrix& truth,
                    std::vector<double> counts, double tol)
        : name_(std::move(name)), formula_(std::move(formula)), given_(given), truth_(truth),
          counts_(std::move(counts)), tol_(tol) {
        // 1. The truth itself. 2. The truth up to a named transform.
        if (matches(given_, truth_, 1.0, tol_)) {
            truth_match_ = Match{false, 1.0};
        } else if (auto k = named_factor(given_, truth_, named_factors(false, counts_), tol_)) {
            truth_match_ = Match{false, *k};
        } else if (given_.shape(0) == truth_.shape(1) && given_.shape(1) == truth_.shape(0)) {
            if (auto kt = named_factor(given_, transposed_copy(truth_), named_factors(true, counts_), tol_))
                truth_match_ = Match{true, *kt};
        }
        if (truth_match_) {
            std::vector<std::string> codes = factor_codes(truth_match_->k, counts_);
            if (truth_match_->transposed) codes.push_back("transposed");
            if (!codes.empty()) place_code_ = codes.front();
            return;
        }
        // 4. The truth times a fitted constant (decided now, reported only if no candidate is exact).
        if (auto k = fitted_factor(given_, truth_, tol_))
            fitted_ = Match{false, *k};
        else if (given_.shape(0) == truth_.shape(1) && given_.shape(1) == truth_.shape(0))
            if (auto kt = fitted_factor(given_, transposed_copy(truth_), tol_)) fitted_ = Match{true, *kt};
    }

    /// Offers the next candidate, in the candidates' order.
    void offer(const MistakeCandidate& c) {
        const Matrix& v = *c.value;
        if (v.size() == 0) return;
        if (truth_match_) {  // only to name the place of a gradient-level code an op also declares
            if (!where_ && !place_code_.empty() && c.code == place_code_ && matches(given_, v, 1.0, tol_)) where_ = c;
            // An exact match that a mistake would give as well (a penalty's term dropped at w = 0, relu'
            // left out where every input is positive): at these values the check cannot tell.
            if (truth_match_->k == 1.0 && !truth_match_->transposed && matches(v, truth_, 1.0, tol_) &&
                std::none_of(unseen_.begin(), unseen_.end(),
                             [&](const MistakeCandidate& u) { return u.explanation == c.explanation; }))
                unseen_.push_back(c);
            return;
        }
        if (exact_ || matches(v, truth_, 1.0, tol_)) return;  // decided, or cannot show here
        // 3. The candidate exactly.
        if (matches(given_, v, 1.0, tol_)) {
            exact_ = c;
            return;
        }
        // 5. The candidate up to the transforms (the first one that fits is kept).
        if (transformed_) return;
        for (bool transposed : {false, true}) {
            const bool fits = transposed ? given_.shape(0) == v.shape(1) && given_.shape(1) == v.shape(0)
                                         : given_.shape(0) == v.shape(0) && given_.shape(1) == v.shape(1);
            if (!fits) continue;
            const Matrix form = transposed ? transposed_copy(v) : v;
            std::optional<double> k = named_factor(given_, form, named_factors(true, counts_), tol_);
            if (!k) k = fitted_factor(given_, form, tol_);
            if (k) {
                transformed_ = std::make_pair(c, Match{transposed, *k});
                return;
            }
        }
    }

    GradientReport result() const;

private:
    struct Match {
        bool transposed;
        double k;
    };
    GradientReport conclude(const MistakeCandidate* c, const Match& m) const;

    std::string name_, formula_;
    const Matrix& given_;
    const Matrix& truth_;
    std::vector<double> counts_;
    double tol_;
    std::optional<Match> truth_match_, fitted_;
    std::optional<MistakeCandidate> exact_;
    std::optional<std::pair<MistakeCandidate, Match>> transformed_;
    std::string place_code_;                // the gradient-level code of truth_match_, if any
    std::optional<MistakeCandidate> where_;  // an op's mistake with that code giving `given` exactly
    std::vector<MistakeCandidate> unseen_;  // mistakes that give the truth itself at these values
};

GradientReport GradientMatcher::result() const {
    if (truth_match_) return conclude(nullptr, *truth_match_);
    if (exact_) return conclude(&*exact_, Match{false, 1.0});
    if (fitted_) return conclude(nullptr, *fitted_);
    if (transformed_) return conclude(&transformed_->first, transformed_->second);
    // 6. Nothing explains it.
    GradientReport r = conclude(nullptr, Match{false, 1.0});  // shapes and errors
    const std::string expected = formula_ + " (" + shape_str(r.expected_shape) + ")";
    r.factor = 1.0;
    r.also.clear();
    if (r.given_shape == r.expected_shape) {
        r.diagnosis = "unexplained";
        r.hint = name_ + " should be " + expected + "; largest error " + number(r.max_abs_error) + " at (" +
                 std::to_string(r.worst_row) + "," + std::to_string(r.worst_col) + "): yours " +
                 number(given_(r.worst_row, r.worst_col)) + ", expected " + number(truth_(r.worst_row, r.worst_col)) +
                 " (" + number(r.max_rel_error) + " of the gradient's scale); no known mistake explains it";
    } else {
        r.diagnosis = "wrong_shape";
        r.hint = name_ + " should be " + formula_ + ", which is " + shape_str(r.expected_shape) + "; yours is " +
                 shape_str(r.given_shape);
        if (r.given_shape[0] == r.expected_shape[1] && r.given_shape[1] == r.expected_shape[0])
            r.hint += " (the transposed shape, but not the transposed values)";
    }
    return r;
}

// The report for a match: the candidate (nullptr: the truth), transposed or not, and the constant.
GradientReport GradientMatcher::conclude(const MistakeCandidate* c, const Match& m) const {
    GradientReport r;
    r.name = name_;
    r.expected_shape = shape_of(truth_);
    r.given_shape = shape_of(given_);
    if (r.given_shape == r.expected_shape) fill_errors(r, given_, truth_);
    const std::string expected = formula_ + " (" + shape_str(r.expected_shape) + ")";
    std::vector<std::string> found;
    if (c != nullptr) found.push_back(c->code);
    for (const std::string& code : factor_codes(m.k, counts_)) found.push_back(code);
    if (m.transposed) found.push_back("transposed");
    r.factor = m.k;
    if (found.empty()) {
        r.diagnosis = "ok";
        r.hint = name_ + " = " + expected;
        // e.g. a penalty's term at w = 0: ok here says nothing about that mistake
        for (std::size_t i = 0; i < unseen_.size(); ++i)
            r.hint += (i == 0 ? unseen_.size() == 1 ? "; at these values the check cannot tell it from a mistake, which "
                                                      "gives the same numbers: "
                                                    : "; at these values the check cannot tell it from mistakes, which "
                                                      "give the same numbers: "
                              : "; ") +
                      unseen_[i].explanation;
        return r;
    }
    r.diagnosis = found.front();
    r.also.assign(found.begin() + 1, found.end());
    // Where: the candidate's place, or an op's own mistake that explains a gradient-level code.
    if (const MistakeCandidate* place = c != nullptr ? c : where_ ? &*where_ : nullptr) {
        r.node = place->node;
        r.op = place->op;
    }
    const std::string form = c == nullptr ? "(" + formula_ + ")" : c->form;
    r.hint = name_ + " should be " + expected + "; yours equals " + form_text(form, m.transposed, m.k, counts_) + " —";
    for (std::size_t i = 0; i < found.size(); ++i) {
        const std::string why =
            c != nullptr && i == 0 ? c->explanation : code_explanation(found[i], name_, r.expected_shape, m.k, counts_);
        r.hint += (i ? "; " : " ") + why;
    }
    return r;
}

}  // namespace

GradientReport diagnose_gradient(const std::string& name, const std::string& formula, const Matrix& given,
                                 const Matrix& truth, const std::vector<MistakeCandidate>& candidates,
                                 const std::vector<double>& mean_counts, double tol) {
    GradientMatcher matcher(name, formula, given, truth, mean_counts, tol);
    for (const MistakeCandidate& c : candidates) matcher.offer(c);
    return matcher.result();
}

// ---------------------------------------------------------------------------------------------
// verify on a tape

namespace {

// One mutated reverse pass and what it stands for.
struct MutatedPass {
    std::vector<Mutation> mutations;
    std::string code;
    std::string form;         // "the derivation with a mistake at A1 = σ(Z1)"
    std::string explanation;  // the mistake's description, in the node's names
    std::string node, op;
};

class Verifier {
public:
    Verifier(Tape& tape, const Var& out) : tape_(tape), out_(out), n_(out.index() + 1) {}

    VerifyReport run(const std::map<std::string, Matrix>& hand, const VerifyOptions& options);

private:
    std::size_t resolve(const std::string& name) const;
    void read_graph();
    std::string where(std::size_t k) const;
    std::string node_name(std::size_t k) const;
    void add_passes();
    bool eligible(std::size_t k) const { return reaches_[k] && tape_.node(k).requires_grad(); }

    Tape& tape_;
    Var out_;
    std::size_t n_;
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> consumers_;  // (node, input slot)
    std::vector<bool> reaches_;  // the output depends on it
    std::map<std::size_t, std::string> forward_, formula_;  // by node: "σ(Z1)", "dA1 ⊙ A1(1 − A1)"
    std::vector<std::size_t> backward_order_;                // explain's reverse-pass order
    std::vector<double> counts_;                             // N of every mean
    std::vector<MutatedPass> passes_;
    std::optional<TemplateNames> names_;  // mistake descriptions and inline nodes in the graph's names
};

std::size_t Verifier::resolve(const std::string& name) const {
    const std::string node = hand_gradient_node(name);
    for (std::size_t k = 0; k < n_; ++k)
        if (tape_.node(k).name() == node) return k;
    std::string known;
    for (std::size_t k = 0; k < n_; ++k)
        if (!tape_.node(k).name().empty() && tape_.node(k).requires_grad())
            known += (known.empty() ? "" : ", ") + std::string("d") + tape_.node(k).name();
    throw UsageError("verify: no node named " + node + " for the hand gradient " + name + " (the graph's named gradients: " +
                     (known.empty() ? "none" : known) + ")");
}

void Verifier::read_graph() {
    consumers_.assign(n_, {});
    for (std::size_t k = 0; k < n_; ++k) {
        const Var v = tape_.node(k);
        for (std::size_t i = 0; i < v.num_inputs(); ++i) consumers_[v.input(i).index()].push_back({k, i});
        if (v.def() != nullptr && std::string(v.op()) == "mean")
            counts_.push_back(static_cast<double>(v.input(0).value().size() / v.value().size()));
    }
    std::sort(counts_.begin(), counts_.end());
    counts_.erase(std::unique(counts_.begin(), counts_.end()), counts_.end());
    reaches_.assign(n_, false);
    reaches_[n_ - 1] = true;
    for (std::size_t k = n_ - 1; k-- > 0;)
        for (const auto& [c, slot] : consumers_[k]) reaches_[k] = reaches_[k] || reaches_[c];
    names_.emplace(tape_, out_);
    for (const ExplainLine& line : explain(tape_, out_)) {
        if (line.kind == ExplainLine::Kind::forward) forward_[line.node] = line.formula;
        if (line.kind != ExplainLine::Kind::backward) continue;
        formula_[line.node] = line.formula;
        backward_order_.push_back(line.node);
    }
}

// "A1 = σ(Z1)". A node without a line of its own is written inline in the line of the node that
// uses it, so it is named as it reads there: "log_softmax(Z) in J = −mean(sum(Y ⊙ log_softmax(Z), 0))".
std::string Verifier::where(std::size_t k) const {
    const Var v = tape_.node(k);
    if (const auto f = forward_.find(k); f != forward_.end()) return v.name() + " = " + f->second;
    std::size_t line = k;
    while (forward_.count(line) == 0 && consumers_[line].size() == 1) line = consumers_[line].front().first;
    const auto f = forward_.find(line);
    if (f == forward_.end() || tape_.node(line).name().empty()) return v.describe();
    return (*names_)(v, "{out}") + " in " + tape_.node(line).name() + " = " + f->second;
}

// A node's name, or an unnamed one as it reads in the equations ("mean(Y ⊙ log(A2) + …)"), never
// "the unnamed mean result #21".
std::string Verifier::node_name(std::size_t k) const {
    const Var v = tape_.node(k);
    return v.name().empty() ? (*names_)(v, "{out}") : v.name();
}

void Verifier::add_passes() {
    // Each declared mistake at each node alone, nearest the output first.
    for (std::size_t k = n_; k-- > 0;) {
        const Var v = tape_.node(k);
        const OpDef* def = v.def();
        if (def == nullptr || def->mistakes.empty() || !eligible(k)) continue;
        const std::string form = "the derivation with a mistake at " + where(k);  // one per node
        for (std::size_t m = 0; m < def->mistakes.size(); ++m) {
            const Mistake& mistake = def->mistakes[m];
            if (!mistake_applies(v, mistake)) continue;
            passes_.push_back({{{k, m}}, mistake.code, form,
                               (*names_)(v, mistake.description),
                               node_name(k), def->name});
        }
    }
    // One use of a value left out: each consumer of a value used by two or more. x ⊙ x is one use
    // (dropping either slot drops the node's whole contribution to x), as pow(x, 2) is: the same
    // mistake gets the same verdict whichever way the square is written.
    for (std::size_t k = 0; k < n_; ++k) {
        if (!eligible(k)) continue;
        std::vector<std::pair<std::size_t, std::size_t>> uses;  // one per consuming node
        for (const auto& use : consumers_[k])
            if (reaches_[use.first] &&
                std::none_of(uses.begin(), uses.end(), [&](const auto& u) { return u.first == use.first; }))
                uses.push_back(use);
        if (uses.size() < 2) continue;
        for (const auto& [c, slot] : uses) {
            const Var v = tape_.node(k), consumer = tape_.node(c);
            passes_.push_back({{{c, Mutation::drop_path, slot}}, "missing_path",
                               "the derivation without the use of " + v.describe() + " in " + where(c),
                               "one path from " + v.describe() + " to " + out_.describe() + " left out (through " +
                                   consumer.op() + "; a value used " + std::to_string(uses.size()) +
                                   " times gets the sum of its paths' gradients)",
                               node_name(c), consumer.op()});
        }
    }
    // The same mistake at the first j nodes of an op at once (j >= 2; j = all: everywhere), the ops
    // in the order they first occur.
    std::vector<std::pair<const OpDef*, std::vector<std::size_t>>> by_op;  // eligible nodes, forward order
    for (std::size_t k = 0; k < n_; ++k) {
        const OpDef* def = tape_.node(k).def();
        if (def == nullptr || def->mistakes.empty() || !eligible(k)) continue;
        auto it = std::find_if(by_op.begin(), by_op.end(), [def](const auto& e) { return e.first == def; });
        if (it == by_op.end()) it = by_op.insert(by_op.end(), {def, {}});
        it->second.push_back(k);
    }
    for (const auto& [def, nodes] : by_op)
        for (std::size_t m = 0; m < def->mistakes.size(); ++m)
            for (std::size_t j = 2; j <= nodes.size(); ++j) {
                // One description for several nodes: in the signature's names, as the derivative table.
                MutatedPass p{{}, def->mistakes[m].code, "", generic_rule_text(*def, def->mistakes[m].description), "",
                              def->name};
                for (std::size_t i = 0; i < j; ++i) {
                    const Var v = tape_.node(nodes[i]);
                    if (mistake_applies(v, def->mistakes[m])) p.mutations.push_back({nodes[i], m});
                    p.node += (i ? ", " : "") + node_name(nodes[i]);
                }
                if (p.mutations.size() < 2) continue;
                p.form = "the derivation with the same mistake at every " + std::string(def->name) +
                         (j == nodes.size() ? "" : " up to " + tape_.node(nodes[j - 1]).describe()) + " (" + p.node + ")";
                passes_.push_back(std::move(p));
            }
}

VerifyReport Verifier::run(const std::map<std::string, Matrix>& hand, const VerifyOptions& options) {
    std::vector<std::pair<std::string, std::size_t>> targets;
    for (const auto& [name, matrix] : hand) {
        targets.push_back({name, resolve(name)});
        const Var v = tape_.node(targets.back().second);
        if (!v.requires_grad())
            throw UsageError("verify: " + v.describe() + " is a constant; it has no gradient to check (" + name + ")");
    }
    tape_.backward(out_);
    read_graph();
    std::vector<Matrix> truths, rows;
    std::vector<GradientMatcher> matchers;
    truths.reserve(targets.size());  // the matchers keep references
    rows.reserve(targets.size());
    for (const auto& [name, k] : targets) {
        truths.push_back(tape_.node(k).grad());
        const Matrix* given = &hand.at(name);
        const Matrix& truth = truths.back();
        if (options.one_dimensional.count(name) != 0 && given->shape(1) == 1 && truth.shape(0) == 1 &&
            truth.shape(1) == given->shape(0) && truth.shape(1) != 1) {
            rows.push_back(Matrix({std::size_t{1}, given->shape(0)}));
            std::copy_n(given->data(), given->size(), rows.back().data());
            given = &rows.back();
        }
        const auto custom = options.formulas.find(name);
        const auto from_explain = formula_.find(k);
        const std::string formula = custom != options.formulas.end() ? custom->second
                                    : from_explain != formula_.end() ? from_explain->second
                                                                     : "0 (" + out_.describe() + " does not depend on it)";
        matchers.emplace_back(name, formula, *given, truths.back(), counts_, options.tol);
    }
    add_passes();
    // A pass can change target i's gradient only through a mutated operand that depends on it; one
    // that cannot (dW's transposition, for db) is not offered, so that it can never be taken for a
    // mistake the values hide.
    std::vector<std::vector<bool>> depends(targets.size(), std::vector<bool>(n_, false));
    for (std::size_t i = 0; i < targets.size(); ++i) {
        depends[i][targets[i].second] = true;
        for (std::size_t k = targets[i].second + 1; k < n_; ++k) {
            const Var v = tape_.node(k);
            for (std::size_t j = 0; j < v.num_inputs() && !depends[i][k]; ++j) depends[i][k] = depends[i][v.input(j).index()];
        }
    }
    const auto mutated_operand = [&](const Mutation& m) {
        const Var v = tape_.node(m.node);
        return v.input(m.mistake == Mutation::drop_path ? m.input : v.def()->mistakes[m.mistake].input).index();
    };
    for (const MutatedPass& p : passes_) {
        try {
            tape_.backward(out_, p.mutations);
        } catch (const ShapeError&) {  // a reshaped gradient met another path: no hand derivation
            continue;
        } catch (const NumericalError&) {  // anomaly detection on and the mistake made a NaN
            continue;
        }
        for (std::size_t i = 0; i < targets.size(); ++i)
            if (std::any_of(p.mutations.begin(), p.mutations.end(),
                            [&](const Mutation& m) { return depends[i][mutated_operand(m)]; }))
                matchers[i].offer({&tape_.node(targets[i].second).grad(), p.code, p.form, p.explanation, p.node, p.op});
    }
    tape_.backward(out_);  // leave the true gradients on the tape

    // Reports in explain's reverse-pass order (gradients out does not depend on: last).
    std::vector<std::size_t> order(targets.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto position = [&](std::size_t i) {
        const auto it = std::find(backward_order_.begin(), backward_order_.end(), targets[i].second);
        return static_cast<std::size_t>(it - backward_order_.begin());
    };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return position(a) < position(b); });

    VerifyReport report;
    report.reverse_passes = passes_.size() + 2;
    for (std::size_t i : order) {
        report.gradients.push_back(matchers[i].result());
        GradientReport& g = report.gradients.back();
        if (g.diagnosis == "wrong_shape" && options.one_dimensional.count(g.name) != 0)  // "yours is 640×1" misleads
            g.hint += " (a 1-D file of " + std::to_string(hand.at(g.name).size()) +
                      " values, which stands only for a column or row of that length)";
    }

    // A wrong gradient is a consequence of another wrong one when its node feeds that one's node
    // (its step reads that gradient, directly or through others).
    std::vector<std::size_t> node_of;
    for (std::size_t i : order) node_of.push_back(targets[i].second);
    auto reaches_node = [&](std::size_t start, std::size_t target) {  // start →* target (forward)
        std::vector<bool> seen(n_, false);
        std::vector<std::size_t> stack{start};
        while (!stack.empty()) {
            const std::size_t k = stack.back();
            stack.pop_back();
            for (const auto& [c, slot] : consumers_[k])
                if (!seen[c]) {
                    if (c == target) return true;
                    seen[c] = true;
                    stack.push_back(c);
                }
        }
        return false;
    };
    for (std::size_t a = 0; a < report.gradients.size(); ++a) {
        GradientReport& g = report.gradients[a];
        if (g.ok()) continue;
        for (std::size_t b = a; b-- > 0 && g.consequence_of.empty();)  // the nearest line above first
            if (!report.gradients[b].ok() && reaches_node(node_of[a], node_of[b]))
                g.consequence_of = report.gradients[b].name;
        if (g.consequence_of.empty() && report.first_wrong_step.empty()) report.first_wrong_step = g.name;
    }
    return report;
}

}  // namespace

std::string float32_tolerance(const std::vector<std::string>& float32_names, double& tol) {
    if (float32_names.empty() || tol >= kFloat32Tolerance) return "";
    std::string names;
    for (const std::string& name : float32_names) names += (names.empty() ? "" : ", ") + name;
    char note[160];
    std::snprintf(note, sizeof note, " float32 values: judged at float32's precision (tolerance %g, not %g)",
                  kFloat32Tolerance, tol);
    tol = kFloat32Tolerance;
    return names + (float32_names.size() == 1 ? " holds" : " hold") + note;
}

std::string hand_gradient_node(const std::string& name) {
    if (name.size() < 2 || name[0] != 'd')
        throw UsageError("the hand gradient '" + name + "' is not named d<node>: the gradient of " +
                         (name.empty() ? "W1" : name) + " is d" + (name.empty() ? "W1" : name));
    return name.substr(1);
}

VerifyReport verify(Tape& tape, const Var& output, const std::map<std::string, Matrix>& hand,
                    const VerifyOptions& options) {
    if (&output.tape() != &tape) throw UsageError("verify: the output belongs to another tape");
    return Verifier(tape, output).run(hand, options);
}

}  // namespace matgrad
