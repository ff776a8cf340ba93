#include "model_input.hpp"

#include <nn/io.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace matgrad::cli {

namespace fs = std::filesystem;

void add_model_options(CLI::App& cmd, ModelOptions& o, const std::uint64_t* existing_seed) {
    cmd.add_option("MODEL", o.model, "A model file (*.mg): forward equations as text, see examples/models/");
    cmd.add_option("--inputs", o.inputs, "With MODEL: directory holding NAME.npy for the declared names");
    cmd.add_option("--dim", o.dims, "With MODEL: a dimension's size, e.g. --dim n=7 (repeatable)");
    cmd.add_option("--output", o.output, "With MODEL: the 1x1 node to use as the output (default: the last one)");
    if (existing_seed != nullptr) {
        o.seed_value = existing_seed;
        o.seed_option = cmd.get_option("--seed");
    } else {
        o.seed_option = cmd.add_option("--seed", o.own_seed, "With MODEL: draw the values missing from --inputs with this seed")
                            ->check(seed_number);
    }
}

namespace {

std::map<std::string, std::size_t> parse_dims(const std::vector<std::string>& dims) {
    std::map<std::string, std::size_t> parsed;
    for (const std::string& d : dims) {
        const std::size_t eq = d.find('=');
        std::size_t used = 0;
        long long size = 0;
        try {
            if (eq != std::string::npos) size = std::stoll(d.substr(eq + 1), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (eq == std::string::npos || eq == 0 || used == 0 || used != d.size() - eq - 1 || size <= 0)
            throw std::invalid_argument("--dim: '" + d + "' is not NAME=SIZE with a positive size (e.g. --dim n=7)");
        // A repeated name would otherwise silently take the last size.
        const auto [it, fresh] = parsed.emplace(d.substr(0, eq), static_cast<std::size_t>(size));
        if (!fresh)
            throw std::invalid_argument("--dim: " + it->first + " is given twice (" + it->first + "=" +
                                        std::to_string(it->second) + ", " + d + "); give each dimension once");
    }
    return parsed;
}

}  // namespace

LoadedModel load_model(const ModelOptions& o, io::OutputSet* outputs) {
    if (outputs != nullptr) outputs->input(o.model, "the MODEL file");
    lang::Model model = lang::Model::parse(io::read_text_file(o.model), o.model);
    if (!o.output.empty()) model.set_output(o.output);
    if (!o.inputs.empty() && !fs::is_directory(o.inputs))
        throw io::InputError(o.inputs + ": not a directory (--inputs holds NAME.npy for the model's declared names)");

    lang::Values values;
    auto file_of = [&](const std::string& name) { return (fs::path(o.inputs) / (name + ".npy")).string(); };
    for (const lang::Declaration& d : model.declarations())
        if (!o.inputs.empty() && fs::exists(file_of(d.name))) {
            values.emplace(d.name, io::read_npy(file_of(d.name)));
            if (outputs != nullptr) outputs->input(file_of(d.name), "the value of " + d.name + " (--inputs)");
        }
    lang::BindOptions bind;
    bind.dims = parse_dims(o.dims);
    bind.seed = o.seed();
    bind.describe_value = [&](const std::string& name) {
        return o.inputs.empty() ? name + ".npy (no --inputs directory given)" : file_of(name);
    };
    bind.describe_dim = [](const std::string& dim, std::size_t size) {
        return dim + " = " + std::to_string(size) + " from --dim";
    };
    bind.missing_hint = "--seed S draws missing values at random";
    bind.draw_unbound_dims = o.draw_dims;
    const std::string files_text = values.empty() ? "" : "the .npy files in " + o.inputs;
    return report::bind_model(std::move(model), std::move(values), files_text, bind);
}

void add_mlp_inputs(io::OutputSet& outputs, const nn::MlpSource& source) {
    for (const std::string* dir : {&source.data_dir, &source.params_dir}) {
        std::error_code ignored;
        if (dir->empty() || !fs::is_directory(*dir, ignored)) continue;
        for (const fs::directory_entry& entry : fs::directory_iterator(*dir, ignored))
            if (entry.path().extension() == ".npy") outputs.input(entry.path().string(), "an input file");
    }
}

std::vector<std::string> plan_npy_files(io::OutputSet& outputs, const std::string& dir, const std::vector<NpyOutput>& files) {
    std::vector<std::string> names;
    for (const NpyOutput& f : files) {
        names.push_back(f.name + ".npy");
        outputs.plan((fs::path(dir) / names.back()).string(), f.what, true);
    }
    return names;
}

void write_npy_files(io::OutputSet& outputs, const std::string& dir, const std::vector<NpyOutput>& files) {
    for (const NpyOutput& f : files) {
        const std::string path = (fs::path(dir) / (f.name + ".npy")).string();
        for (const double x : *f.value)
            if (!std::isfinite(x))
                throw std::runtime_error(path + ": " + f.what + " is not finite (" + std::to_string(x) +
                                         "); nothing was written");
        outputs.write_npy(path, *f.value);
    }
}

std::string comma_list(const std::vector<std::string>& files) {
    std::string text;
    for (const std::string& f : files) text += (text.empty() ? "" : ", ") + f;
    return text;
}

void print_written(bool json, nlohmann::ordered_json facts, const std::string& head, const std::string& out,
                   const std::vector<std::string>& files) {
    if (json) {
        facts["out"] = out;
        facts["files"] = files;
        std::printf("%s\n", facts.dump(2).c_str());
    } else {
        std::printf("%s; wrote %s to %s\n", head.c_str(), comma_list(files).c_str(), out.c_str());
    }
}

}  // namespace matgrad::cli
