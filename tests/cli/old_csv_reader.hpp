// The CSV reader before the one-pass reader, as a test oracle (see old_csv_reader.cpp).
#pragma once

#include <nn/io.hpp>

namespace matgrad::io::oracle {

/// The old parse_csv: `values` is rows x columns (the file's layout).
CsvTable parse_csv_by_rows(std::string_view text, const std::string& name);

}  // namespace matgrad::io::oracle
