// The model's flatbuffer array and labels, compiled from the model folder on the include path.
//
// The model files (kws_model.h, kws_model.cc, kws_feature_spec.h) are generated per run by
// `tinykws export` and live in a model folder: firmware/model/ (the shipped default) or
// runs/<run>/firmware/. firmware/tools/pio_model_dir.py copies the chosen folder's files into one
// fixed staging folder and puts that folder on the include path, so the model folder itself is
// never a source folder, no tracked file is overwritten to change models, and only the files that
// include the model are rebuilt when it changes. This file is what turns kws_model.cc into code.
#include "kws_model.cc"
