#include "core/distributed/exchange_rows.h"

#include <numeric>

namespace moewb {

namespace {

// The group rides in the autograd graph until backward needs it.
struct GroupHolder : torch::CustomClassHolder {
  explicit GroupHolder(std::shared_ptr<Collective> g) : group(std::move(g)) {}
  std::shared_ptr<Collective> group;
};

torch::Tensor exchange(const torch::Tensor& rows, const std::vector<int64_t>& send, const std::vector<int64_t>& recv,
                       Collective& group) {
  // Gloo in LibTorch 1.13 carries no bfloat16: such rows travel as float32 (exact) and come back converted
  const bool widen = rows.scalar_type() == torch::kBFloat16;
  const auto in = (widen ? rows.to(torch::kFloat32) : rows).contiguous();
  auto shape = in.sizes().vec();
  shape[0] = std::accumulate(recv.begin(), recv.end(), int64_t{0});
  auto out = torch::empty(shape, in.options());
  group.all_to_all(out, in, recv, send);
  return widen ? out.to(torch::kBFloat16) : out;
}

struct ExchangeRows : torch::autograd::Function<ExchangeRows> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& rows,
                               const c10::intrusive_ptr<GroupHolder>& holder, const std::vector<int64_t>& send,
                               const std::vector<int64_t>& recv) {
    ctx->saved_data["group"] = c10::IValue::make_capsule(holder);
    ctx->saved_data["send"] = send;
    ctx->saved_data["recv"] = recv;
    return exchange(rows.detach(), send, recv, *holder->group);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto holder = c10::static_intrusive_pointer_cast<GroupHolder>(ctx->saved_data["group"].toCapsule());
    const auto send = ctx->saved_data["send"].toIntVector(), recv = ctx->saved_data["recv"].toIntVector();
    return {exchange(grads[0], recv, send, *holder->group), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor exchange_rows(const torch::Tensor& rows, const std::vector<int64_t>& send,
                            const std::vector<int64_t>& recv, const std::shared_ptr<Collective>& group) {
  return ExchangeRows::apply(rows, c10::make_intrusive<GroupHolder>(group), send, recv);
}

}  // namespace moewb
