#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

static PyObject *sqlite_version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(sqlite3_libversion());
}

static PyMethodDef methods[] = {
    {"sqlite_version", sqlite_version, METH_NOARGS, "The version of the libsqlite3 this module loads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sqlite", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sqlite(void) { return PyModule_Create(&module); }
